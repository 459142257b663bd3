package dev.kiln.pipeline.decode;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.error.ModelLoadException;
import dev.kiln.pipeline.model.OnnxModel;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Latents to pixels through the VAE decoder: divide by the scaling factor, decode, map [-1, 1] to bytes.
 *
 * <p>A batch is one session call. On ONNX Runtime's CPU provider a picture comes out bit for bit the same
 * whatever it is decoded with (pinned for the shipped models by {@code SharedStageCallsTest}); batching pays on
 * small pictures, where a call's fixed costs are a large part of it.
 */
public final class VaeDecoder {
    private final OnnxModel model;
    private final double scalingFactor;
    private final String input;
    private final String output;

    public VaeDecoder(OnnxModel model, double scalingFactor) {
        this.model = model;
        this.scalingFactor = scalingFactor;
        this.input = model.hasInput("latent_sample") ? "latent_sample" : model.inputs().keySet().iterator().next();
        this.output = model.outputs().containsKey("sample") ? "sample" : model.outputs().keySet().iterator().next();
    }

    public OnnxModel model() {
        return model;
    }

    /** Decodes latents [B, C, h, w] (as the sampler left them, i.e. still scaled) to B pictures, in one call. */
    public List<RgbImage> decode(FloatTensor latents) {
        float[] scaled = latents.data();
        float[] z = new float[scaled.length];
        float inv = (float) (1.0 / scalingFactor);
        for (int k = 0; k < z.length; k++) {
            z[k] = scaled[k] * inv;
        }
        FloatTensor px;
        try {
            OnnxTensor in = model.floatInput(input, z, latents.shape());
            px = model.run(Map.of(input, in), output).get(output);
        } catch (OrtException e) {
            throw new ModelLoadException(model.label() + ": cannot build inputs: " + e.getMessage(), e);
        }
        int h = (int) px.shape()[2];
        int w = (int) px.shape()[3];
        List<RgbImage> images = new ArrayList<>(latents.batch());
        for (int i = 0; i < latents.batch(); i++) {
            images.add(RgbImage.fromSignedPlanar(px.data(), i * 3 * w * h, w, h));
        }
        return images;
    }
}
