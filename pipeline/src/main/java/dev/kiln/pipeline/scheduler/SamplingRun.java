package dev.kiln.pipeline.scheduler;

import dev.kiln.pipeline.noise.GaussianNoise;

/**
 * One image's way through a scheduler's timesteps: the diffusers {@code set_timesteps} result plus
 * whatever state {@code step} keeps between calls (DPM-Solver++'s previous data prediction).
 *
 * <p>Runs are not thread-safe and need not be: each image has its own, used by one thread at a time.
 * Arrays are float for the model's sake; arithmetic inside is double.
 */
public interface SamplingRun {
    /** The model timesteps, in order of use. A fresh copy. */
    double[] timesteps();

    /** How many steps the run has, the length of {@link #timesteps()}. */
    default int steps() {
        return timesteps().length;
    }

    /** The standard deviation of the starting latent: text-to-image latents are {@code randn × initNoiseSigma()}. */
    double initNoiseSigma();

    /** The model's input at {@code step} for {@code sample}; {@code out} may be {@code sample} itself. */
    void scaleModelInput(float[] sample, int step, float[] out);

    /**
     * Takes step {@code step}: from the model's output for {@code sample} at {@code timesteps()[step]},
     * returns the sample for the next step (a new array; {@code sample} is left alone), or the final
     * clean latent after the last step. Stochastic samplers draw their fresh noise as stream
     * {@code step + 1} of {@code noise}; deterministic ones ignore it, and accept null.
     */
    float[] step(float[] modelOutput, int step, float[] sample, GaussianNoise noise);

    /**
     * The index of the first step image-to-image runs at {@code strength} in [0, 1], as diffusers'
     * {@code get_timesteps}: {@code init = min(⌊N·strength⌋, N)}, first index {@code max(N − init, 0)}.
     * Strength 1 runs every step, strength 0 none (the index is N).
     */
    default int startIndexForStrength(double strength) {
        if (!(strength >= 0 && strength <= 1)) {
            throw new IllegalArgumentException("strength must be between 0 and 1, was " + strength);
        }
        int n = steps();
        int initTimestep = Math.min((int) (n * strength), n);
        return Math.max(n - initTimestep, 0);
    }

    /**
     * The clean latent {@code original} noised with {@code noise} to the level of
     * {@code timesteps()[step]}, in this sampler's sample scale: the image-to-image starting sample.
     */
    float[] addNoise(float[] original, float[] noise, int step);
}
