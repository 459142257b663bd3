package dev.kiln.pipeline.decode;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.kiln.pipeline.error.ModelLoadException;
import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.model.OnnxModel;
import dev.kiln.pipeline.noise.NoiseSource;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Latents to pixels with a consistency decoder, sampled like OpenAI's: two steps at t = 1008 then 512
 * over a {@link ConsistencySchedule}. Starting from x = 0, each step noises x to t, asks the network for its
 * output on {@code c_in·x}, and takes {@code x = clamp(c_out·out + c_skip·x, −1, 1)}.
 *
 * <p>The network sees the plain (unscaled) VAE latent and does its own normalisation and upsampling, so
 * the same latents feed it as feed the VAE decoder. A batch runs through one session call per step;
 * the noise of image i depends only on its seed, never on the batch.
 */
public final class ConsistencyDecoder {
    /** The two sampling steps, as OpenAI's decoder rounds its schedule [1.0, 0.5] to 64 distilled steps. */
    public static final int[] TIMESTEPS = {1008, 512};
    /** Noise streams of the two steps; far from the scheduler's per-step streams and the VAE posterior's. */
    static final int FIRST_NOISE_STREAM = Integer.MAX_VALUE - 2;

    /** The network: its output for noised pixels scaled by c_in, at timestep t, given latents. */
    @FunctionalInterface
    public interface Network {
        FloatTensor predict(FloatTensor scaledSample, int timestep, FloatTensor latents);
    }

    private final Network network;
    private final ConsistencySchedule schedule;
    private final double scalingFactor;
    private final int latentFactor;

    public ConsistencyDecoder(Network network, ConsistencySchedule schedule, double scalingFactor, int latentFactor) {
        this.network = network;
        this.schedule = schedule;
        this.scalingFactor = scalingFactor;
        this.latentFactor = latentFactor;
    }

    /** Over a package's {@code consistency_decoder/model.onnx} and the schedule its {@code kiln.json} names. */
    public static ConsistencyDecoder of(ModelPackage pkg) {
        OnnxModel model = pkg.consistencyDecoder().orElseThrow(() -> new IllegalArgumentException("model " + pkg.id()
                + " ships no consistency decoder"));
        ConsistencySchedule schedule;
        try {
            schedule = ConsistencySchedule.named(pkg.manifest().path("consistency_schedule").asText(null));
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(pkg.id() + ": kiln.json: " + e.getMessage(), e);
        }
        return new ConsistencyDecoder(new OnnxNetwork(model), schedule, pkg.layout().scalingFactor(),
                pkg.layout().latentFactor());
    }

    /** Decodes latents [B, C, h, w] (as the sampler left them, still scaled) to B pictures. */
    public List<RgbImage> decode(FloatTensor latents, long[] seeds) {
        FloatTensor px = decodePixels(latents, seeds);
        int h = (int) px.shape()[2];
        int w = (int) px.shape()[3];
        List<RgbImage> images = new ArrayList<>(px.batch());
        for (int i = 0; i < px.batch(); i++) {
            images.add(RgbImage.fromSignedPlanar(px.data(), i * 3 * w * h, w, h));
        }
        return images;
    }

    /** Pixels [B, 3, H, W] in [−1, 1], before quantisation. */
    public FloatTensor decodePixels(FloatTensor latents, long[] seeds) {
        int b = latents.batch();
        if (seeds.length != b) {
            throw new IllegalArgumentException("one seed per image is needed: " + seeds.length + " for " + b);
        }
        float[] z = latents.data().clone();
        float inv = (float) (1.0 / scalingFactor);
        for (int k = 0; k < z.length; k++) {
            z[k] *= inv;
        }
        FloatTensor plain = new FloatTensor(z, latents.shape());
        long[] shape = {b, 3, latents.shape()[2] * latentFactor, latents.shape()[3] * latentFactor};
        int per = (int) (shape[1] * shape[2] * shape[3]);
        float[] x = new float[b * per];
        for (int step = 0; step < TIMESTEPS.length; step++) {
            int t = TIMESTEPS[step];
            double a = Math.sqrt(schedule.alphaBar(t));
            double s = Math.sqrt(1 - schedule.alphaBar(t));
            float[] in = new float[x.length];
            for (int i = 0; i < b; i++) {
                float[] noise = new NoiseSource(seeds[i], 0).gaussian(FIRST_NOISE_STREAM - step, per);
                for (int k = 0, o = i * per; k < per; k++, o++) {
                    x[o] = (float) (a * x[o] + s * noise[k]);
                }
            }
            double cIn = schedule.cIn(t);
            for (int k = 0; k < x.length; k++) {
                in[k] = (float) (cIn * x[k]);
            }
            float[] out = network.predict(new FloatTensor(in, shape), t, plain).data();
            if (out.length != x.length) {
                throw new ModelLoadException("consistency decoder returned " + out.length + " values for "
                        + x.length + " pixels");
            }
            double cOut = schedule.cOut(t);
            double cSkip = schedule.cSkip(t);
            for (int k = 0; k < x.length; k++) {
                double v = cOut * out[k] + cSkip * x[k];
                x[k] = (float) Math.max(-1.0, Math.min(1.0, v));
            }
        }
        return new FloatTensor(x, shape);
    }

    /** The ONNX export: inputs {@code sample}, {@code timestep}, {@code latents}; output {@code out}. */
    private static final class OnnxNetwork implements Network {
        private final OnnxModel model;
        private final String output;

        OnnxNetwork(OnnxModel model) {
            this.model = model;
            model.input("sample");
            model.input("timestep");
            model.input("latents");
            this.output = model.outputs().containsKey("out") ? "out" : model.outputs().keySet().iterator().next();
        }

        @Override
        public FloatTensor predict(FloatTensor scaledSample, int timestep, FloatTensor latents) {
            int b = scaledSample.batch();
            float[] t = new float[b];
            java.util.Arrays.fill(t, timestep);
            Map<String, OnnxTensor> feed = new HashMap<>();
            try {
                feed.put("sample", model.floatInput("sample", scaledSample.data(), scaledSample.shape()));
                long[] ts = model.input("timestep").rank() == 0 ? new long[0] : new long[] {b};
                feed.put("timestep", model.floatInput("timestep", ts.length == 0 ? new float[] {timestep} : t, ts));
                feed.put("latents", model.floatInput("latents", latents.data(), latents.shape()));
            } catch (OrtException e) {
                feed.values().forEach(OnnxTensor::close);
                throw new ModelLoadException(model.label() + ": cannot build inputs: " + e.getMessage(), e);
            }
            return model.run(feed, output).get(output);
        }
    }
}
