package dev.kiln.pipeline.noise;

/**
 * Numbered streams of standard normal samples, the only thing a sampler needs from a noise
 * source. {@link NoiseSource} is the production one; it is an interface so that a scheduler can be
 * driven, in tests, by recorded noise from an independent reference implementation.
 */
@FunctionalInterface
public interface GaussianNoise {
    /**
     * {@code count} standard normal samples of stream {@code stream}; the same arguments must give
     * the same values. Stream 0 is the initial latent, stream {@code k > 0} the fresh noise drawn
     * at step {@code k}.
     */
    float[] gaussian(int stream, int count);
}
