package dev.kiln.pipeline.decode;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.error.ModelLoadException;
import dev.kiln.pipeline.model.OnnxModel;
import dev.kiln.pipeline.noise.NoiseSource;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.util.Map;

/**
 * Pixels to latents for image-to-image, for both export flavours: {@code latent_sample} (a sample
 * the export already drew) or {@code latent_parameters} (mean and log-variance, sampled here with the
 * request's own noise so the result depends only on the seed).
 */
public final class VaeEncoder {
    /** Noise stream for sampling the VAE posterior; far from the streams schedulers use per step. */
    static final int POSTERIOR_STREAM = Integer.MAX_VALUE;

    private final OnnxModel model;
    private final double scalingFactor;
    private final String input;
    private final String output;

    public VaeEncoder(OnnxModel model, double scalingFactor) {
        this.model = model;
        this.scalingFactor = scalingFactor;
        this.input = model.hasInput("sample") ? "sample" : model.inputs().keySet().iterator().next();
        if (model.outputs().containsKey("latent_sample")) {
            output = "latent_sample";
        } else if (model.outputs().containsKey("latent_parameters")) {
            output = "latent_parameters";
        } else {
            throw new ModelLoadException(model.label() + " has neither latent_sample nor latent_parameters as output "
                    + "(outputs: " + model.outputs().keySet() + ")");
        }
    }

    /** Encodes one picture to a scaled latent [C·h·w] with shape {@code [C, h, w]} written to {@code shapeOut}. */
    public FloatTensor encode(RgbImage image, NoiseSource noise) {
        FloatTensor out;
        try {
            OnnxTensor in = model.floatInput(input, image.toSignedPlanar(), new long[] {1, 3, image.height(), image.width()});
            out = model.run(Map.of(input, in), output).get(output);
        } catch (OrtException e) {
            throw new ModelLoadException(model.label() + ": cannot build inputs: " + e.getMessage(), e);
        }
        long[] s = out.shape();
        float[] z;
        long channels = s[1];
        if (output.equals("latent_parameters")) {
            channels = s[1] / 2;
            int n = (int) (channels * s[2] * s[3]);
            float[] eps = noise.gaussian(POSTERIOR_STREAM, n);
            z = new float[n];
            float[] p = out.data();
            for (int i = 0; i < n; i++) {
                double logvar = Math.max(-30.0, Math.min(20.0, p[n + i]));
                z[i] = (float) (p[i] + Math.exp(0.5 * logvar) * eps[i]);
            }
        } else {
            z = out.data().clone();
        }
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) (z[i] * scalingFactor);
        }
        return new FloatTensor(z, new long[] {1, channels, s[2], s[3]});
    }
}
