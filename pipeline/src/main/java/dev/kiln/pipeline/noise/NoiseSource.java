package dev.kiln.pipeline.noise;

/**
 * Gaussian noise for one image of one request.
 *
 * <p>The noise of image {@code index} of a request depends only on the request's seed, that index
 * and the stream asked for, never on which other images share a batch or on thread scheduling:
 * that is what makes the same seed give the same picture alone or in a crowd.
 * Stream 0 is the initial latent; stream {@code k > 0} is the fresh noise a stochastic scheduler
 * draws at step {@code k}.
 */
public final class NoiseSource implements GaussianNoise {
    private final long seed;
    private final int index;

    public NoiseSource(long seed, int index) {
        if (index < 0) {
            throw new IllegalArgumentException("image index must be >= 0, was " + index);
        }
        this.seed = seed;
        this.index = index;
    }

    public long seed() {
        return seed;
    }

    public int index() {
        return index;
    }

    /** {@code count} standard normal samples of the given stream; the same arguments give the same values. */
    @Override
    public float[] gaussian(int stream, int count) {
        float[] out = new float[count];
        long state = mix(mix(mix(seed) ^ (0x9E3779B97F4A7C15L * (index + 1L))) ^ (0xC2B2AE3D27D4EB4FL * (stream + 1L)));
        for (int i = 0; i < count; i += 2) {
            state += 0x9E3779B97F4A7C15L;
            double u1 = toUnitOpen(mix(state));
            state += 0x9E3779B97F4A7C15L;
            double u2 = toUnitOpen(mix(state));
            // Box-Muller: both outputs are used, so a pair of uniforms gives a pair of normals.
            double r = Math.sqrt(-2.0 * Math.log(u1));
            double theta = 2.0 * Math.PI * u2;
            out[i] = (float) (r * Math.cos(theta));
            if (i + 1 < count) {
                out[i + 1] = (float) (r * Math.sin(theta));
            }
        }
        return out;
    }

    /** SplitMix64's finaliser: a bijection with good avalanche, so nearby seeds give unrelated streams. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Maps 53 random bits to (0, 1], never 0, so the logarithm above is finite. */
    private static double toUnitOpen(long bits) {
        return ((bits >>> 11) + 1.0) * 0x1.0p-53;
    }
}
