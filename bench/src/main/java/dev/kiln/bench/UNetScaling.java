package dev.kiln.bench;

import dev.kiln.pipeline.denoise.UNet;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.noise.NoiseSource;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The cost of one UNet call by its number of rows: what batching can gain at most. With the same
 * conditioning arrays as the call before (a batch whose members did not change: the UNet's pinned memory
 * already holds the contexts) and with new ones every call (every member new, so every context row is
 * copied in).
 */
final class UNetScaling {
    static final int[] ROWS = {1, 2, 4, 8, 16, 32};

    private UNetScaling() {
    }

    static String profile(ModelPackage pkg, int size, int calls) {
        UNet unet = new UNet(pkg.unet());
        int c = pkg.layout().latentChannels();
        int h = size / pkg.layout().latentFactor();
        long[] latentShape = {c, h, h};
        long[] contextShape = {pkg.layout().maxTokens(), pkg.layout().contextWidth()};
        NoiseSource noise = new NoiseSource(1, 0);
        int ctx = (int) (contextShape[0] * contextShape[1]);
        StringBuilder b = new StringBuilder(String.format("%nUNet call by rows (%s, %dx%d latents %dx%d, median of %d calls, "
                + "interleaved)%n%-10s%14s%14s%16s%16s%n", pkg.id(), size, size, h, h, calls, "rows", "ms/call",
                "ms/row", "ms/call, new", "ms/row, new"));
        double[][] same = new double[ROWS.length][calls];
        double[][] fresh = new double[ROWS.length][calls];
        List<List<float[]>> contexts = new ArrayList<>();
        for (int rows : ROWS) {
            List<float[]> k = new ArrayList<>();
            for (int r = 0; r < rows; r++) {
                k.add(noise.gaussian(r, ctx));
            }
            contexts.add(k);
        }
        for (int i = -3; i < calls; i++) {
            for (int j = 0; j < ROWS.length; j++) {
                int rows = ROWS[j];
                List<float[]> samples = new ArrayList<>();
                for (int r = 0; r < rows; r++) {
                    samples.add(noise.gaussian(100 + r, c * h * h));
                }
                double[] t = new double[rows];
                Arrays.fill(t, 500);
                FloatTensor sample = FloatTensor.stack(samples, latentShape);
                List<float[]> k = contexts.get(j);
                unet.predict(sample, t, k, k, contextShape); // same arrays as the previous call of this size...
                long t0 = System.nanoTime();
                unet.predict(sample, t, k, k, contextShape); // ...so this one finds the contexts in place
                long reused = System.nanoTime() - t0;
                List<float[]> copies = k.stream().map(float[]::clone).toList();
                t0 = System.nanoTime();
                unet.predict(sample, t, copies, copies, contextShape);
                long rebuilt = System.nanoTime() - t0;
                if (i >= 0) {
                    same[j][i] = reused / 1e6;
                    fresh[j][i] = rebuilt / 1e6;
                }
            }
        }
        unet.release();
        for (int j = 0; j < ROWS.length; j++) {
            double s = median(same[j]);
            double f = median(fresh[j]);
            b.append(String.format("%-10d%14.3f%14.3f%16.3f%16.3f%n", ROWS[j], s, s / ROWS[j], f, f / ROWS[j]));
        }
        return b.toString();
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
