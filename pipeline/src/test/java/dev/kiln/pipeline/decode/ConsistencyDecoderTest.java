package dev.kiln.pipeline.decode;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.pipeline.noise.NoiseSource;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The consistency decoder's schedule and two-step sampling, against values worked out by hand from the
 * closed form: with no β capped, the cumulative product telescopes to ᾱ_t = f((t+1)/1024)/f(0) with
 * f(s) = cos²((s+0.008)/1.008·π/2).
 */
class ConsistencyDecoderTest {
    static double f(double s) {
        double c = Math.cos((s + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    static double alphaBar(int t) {
        return f((t + 1) / 1024.0) / f(0);
    }

    @Test
    void scheduleMatchesTheClosedForm() {
        for (int t : new int[] {0, 1, 100, 512, 1000, 1008}) {
            assertEquals(alphaBar(t), ConsistencySchedule.DISCRETE.alphaBar(t), 1e-12 * Math.max(1, 1 / alphaBar(t)), "ᾱ at " + t);
        }
        // ᾱ_512 by hand: s = 513/1024, (s+0.008)/1.008 = 0.504937, angle 0.793153 rad, cos² = 0.492246,
        // divided by f(0) = cos²(0.012466) = 0.999845
        assertEquals(0.492322, ConsistencySchedule.DISCRETE.alphaBar(512), 2e-6);
        // the last step's β would be 1; capped at 0.999, ᾱ_1023 = ᾱ_1022 · 0.001
        assertEquals(ConsistencySchedule.DISCRETE.alphaBar(1022) * 0.001, ConsistencySchedule.DISCRETE.alphaBar(1023), 1e-15);
    }

    @Test
    void preconditioningAtTheTwoSamplingSteps() {
        for (int t : ConsistencyDecoder.TIMESTEPS) {
            double ac = alphaBar(t);
            double sigma2 = 1 / ac - 1;
            assertEquals(Math.sqrt(sigma2), ConsistencySchedule.DISCRETE.sigma(t), 1e-9 * Math.sqrt(sigma2));
            assertEquals(0.25 / (sigma2 + 0.25) / Math.sqrt(ac), ConsistencySchedule.DISCRETE.cSkip(t), 1e-9);
            assertEquals(0.5 * Math.sqrt(sigma2) / Math.sqrt(sigma2 + 0.25), ConsistencySchedule.DISCRETE.cOut(t), 1e-9);
            assertEquals(1 / Math.sqrt(ac) / Math.sqrt(sigma2 + 0.25), ConsistencySchedule.DISCRETE.cIn(t), 1e-9);
        }
        // identities of the parametrisation: c_in·√(σ²+σd²)·√ᾱ = 1 and c_skip·(σ²+σd²)·√ᾱ = σd²
        double ac = ConsistencySchedule.DISCRETE.alphaBar(1008);
        double s2 = Math.pow(ConsistencySchedule.DISCRETE.sigma(1008), 2);
        assertEquals(1, ConsistencySchedule.DISCRETE.cIn(1008) * Math.sqrt(s2 + 0.25) * Math.sqrt(ac), 1e-12);
        assertEquals(0.25, ConsistencySchedule.DISCRETE.cSkip(1008) * (s2 + 0.25) * Math.sqrt(ac), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> ConsistencySchedule.DISCRETE.alphaBar(1024));
    }

    @Test
    void continuousScheduleEvaluatesTheCosineAtTOver1024() {
        assertEquals(f(1008 / 1024.0), ConsistencySchedule.CONTINUOUS.alphaBar(1008), 1e-15);
        // by hand: (0.984375+0.008)/1.008 = 0.984499, angle 1.546447 rad, cos 0.024347, squared 5.928e-4
        assertEquals(5.928e-4, ConsistencySchedule.CONTINUOUS.alphaBar(1008), 2e-7);
        assertEquals(ConsistencySchedule.DISCRETE, ConsistencySchedule.named(null));
        assertEquals(ConsistencySchedule.CONTINUOUS, ConsistencySchedule.named("Continuous"));
        assertThrows(IllegalArgumentException.class, () -> ConsistencySchedule.named("linear"));
    }

    /**
     * A network that returns k·(its input) + m·(upsampled latent channel 0): the whole two-step loop is then
     * a few multiplications per pixel, written out here independently of the decoder.
     */
    @Test
    void twoStepSamplingByHand() {
        double k = 0.7;
        double m = 0.3;
        double scaling = 0.5;
        int factor = 4;
        List<int[]> calls = new ArrayList<>();
        ConsistencyDecoder.Network net = (sample, t, latents) -> {
            calls.add(new int[] {t, sample.batch()});
            float[] out = new float[sample.data().length];
            int h = (int) sample.shape()[2];
            int w = (int) sample.shape()[3];
            int per = 3 * h * w;
            int lh = (int) latents.shape()[2];
            int lw = (int) latents.shape()[3];
            int lper = (int) (latents.shape()[1] * lh * lw);
            for (int i = 0; i < out.length; i++) {
                int b = i / per;
                int y = (i % (h * w)) / w;
                int x = i % w;
                out[i] = (float) (k * sample.data()[i] + m * latents.data()[b * lper + (y / factor) * lw + x / factor]);
            }
            return new FloatTensor(out, sample.shape());
        };
        ConsistencyDecoder decoder = new ConsistencyDecoder(net, ConsistencySchedule.DISCRETE, scaling, factor);
        int c = 4;
        int side = 2;
        float[] lat = new float[2 * c * side * side];
        for (int i = 0; i < lat.length; i++) {
            lat[i] = (float) Math.sin(0.37 * i + 0.1);
        }
        long[] seeds = {5, 9};
        FloatTensor px = decoder.decodePixels(new FloatTensor(lat, new long[] {2, c, side, side}), seeds);
        assertArrayEquals(new long[] {2, 3, 8, 8}, px.shape());
        assertEquals(2, calls.size(), "one network call per step for the whole batch");
        assertEquals(1008, calls.get(0)[0]);
        assertEquals(512, calls.get(1)[0]);

        int per = 3 * 8 * 8;
        for (int b = 0; b < 2; b++) {
            float[] n1 = new NoiseSource(seeds[b], 0).gaussian(Integer.MAX_VALUE - 2, per);
            float[] n2 = new NoiseSource(seeds[b], 0).gaussian(Integer.MAX_VALUE - 3, per);
            for (int i = 0; i < per; i++) {
                int y = (i % 64) / 8;
                int x = i % 8;
                double z = lat[b * c * side * side + (y / factor) * side + x / factor] / scaling;
                double x0 = 0;
                double[] noise = {n1[i], n2[i]};
                int[] ts = {1008, 512};
                for (int s = 0; s < 2; s++) {
                    double ac = alphaBar(ts[s]);
                    double sig2 = 1 / ac - 1;
                    double xt = Math.sqrt(ac) * x0 + Math.sqrt(1 - ac) * noise[s];
                    double cin = 1 / Math.sqrt(ac) / Math.sqrt(sig2 + 0.25);
                    double out = k * (cin * xt) + m * z;
                    double v = 0.5 * Math.sqrt(sig2) / Math.sqrt(sig2 + 0.25) * out + 0.25 / (sig2 + 0.25) / Math.sqrt(ac) * xt;
                    x0 = Math.max(-1, Math.min(1, v));
                }
                assertEquals(x0, px.data()[b * per + i], 2e-5, "image " + b + " value " + i);
            }
        }
    }

    @Test
    void anImagesNoiseDependsOnlyOnItsSeed() {
        ConsistencyDecoder.Network net = (sample, t, latents) -> sample;
        ConsistencyDecoder decoder = new ConsistencyDecoder(net, ConsistencySchedule.CONTINUOUS, 1, 2);
        float[] lat = new float[4 * 2 * 2];
        FloatTensor alone = decoder.decodePixels(new FloatTensor(lat, new long[] {1, 4, 2, 2}), new long[] {42});
        float[] two = new float[2 * lat.length];
        FloatTensor pair = decoder.decodePixels(new FloatTensor(two, new long[] {2, 4, 2, 2}), new long[] {7, 42});
        assertArrayEquals(alone.itemData(0), pair.itemData(1));
        assertThrows(IllegalArgumentException.class,
                () -> decoder.decodePixels(new FloatTensor(two, new long[] {2, 4, 2, 2}), new long[] {1}));
    }
}
