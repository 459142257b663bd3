package dev.kiln.pipeline.denoise;

import dev.kiln.pipeline.noise.NoiseSource;
import dev.kiln.pipeline.scheduler.SamplingRun;

/**
 * One image on its way from noise to latent: its sample, its scheduler state, its conditioning and
 * the step it is at. Every image carries its own step index and guidance scale, which is what lets
 * one UNet call serve images of different requests at different points of their sampling.
 */
public final class ImageTrajectory {
    private final NoiseSource noise;
    private final SamplingRun run;
    /** The run's timesteps, copied once: {@link SamplingRun#timesteps()} gives a fresh copy per call. */
    private final double[] timesteps;
    private final long[] latentShape;
    private final long[] contextShape;
    private final float[] cond;
    private final float[] condV;
    private final float[] uncond;
    private final float[] uncondV;
    private final double guidance;
    private final int firstStep;
    private float[] latents;
    private int step;

    /**
     * @param latents     the starting sample (already multiplied by the scheduler's initial sigma, or noised to
     *                    {@code firstStep} for image-to-image), shape {@code latentShape} = [C, h, w]
     * @param contextShape the shape [L, D] of each conditioning array
     * @param cond        conditional hidden states [L·D]; {@code condV} the value context (same array when none)
     * @param uncond      unconditional hidden states, or null when guidance is off
     * @param guidance    classifier-free guidance scale, applied only when {@code uncond} is given
     * @param firstStep   the step index sampling starts at (0, or later for image-to-image)
     */
    public ImageTrajectory(NoiseSource noise, SamplingRun run, float[] latents, long[] latentShape,
                           long[] contextShape, float[] cond, float[] condV, float[] uncond, float[] uncondV,
                           double guidance, int firstStep) {
        this.noise = noise;
        this.run = run;
        this.timesteps = run.timesteps();
        this.latents = latents;
        this.latentShape = latentShape;
        this.contextShape = contextShape;
        this.cond = cond;
        this.condV = condV == null ? cond : condV;
        this.uncond = uncond;
        this.uncondV = uncondV == null ? uncond : uncondV;
        this.guidance = guidance;
        this.firstStep = firstStep;
        this.step = firstStep;
    }

    public NoiseSource noise() {
        return noise;
    }

    public boolean guided() {
        return uncond != null;
    }

    /** UNet rows this image takes per call: two with classifier-free guidance, else one. */
    public int rows() {
        return guided() ? 2 : 1;
    }

    public double timestep() {
        return timesteps[step];
    }

    public int step() {
        return step;
    }

    /** Steps done so far by this image. */
    public int stepsDone() {
        return step - firstStep;
    }

    /** Steps this image takes in all. */
    public int totalSteps() {
        return timesteps.length - firstStep;
    }

    public boolean done() {
        return step >= timesteps.length;
    }

    public float[] latents() {
        return latents;
    }

    public long[] latentShape() {
        return latentShape;
    }

    long[] contextShape() {
        return contextShape;
    }

    float[] cond() {
        return cond;
    }

    float[] condV() {
        return condV;
    }

    float[] uncond() {
        return uncond;
    }

    float[] uncondV() {
        return uncondV;
    }

    /** Whether this image can share a UNet call with {@code other}: same latent size and context length. */
    boolean compatibleWith(ImageTrajectory other) {
        return java.util.Arrays.equals(latentShape, other.latentShape)
                && java.util.Arrays.equals(contextShape, other.contextShape);
    }

    float[] scaledInput() {
        float[] out = new float[latents.length];
        run.scaleModelInput(latents, step, out);
        return out;
    }

    /** Applies guidance to the UNet's rows for this image and takes one scheduler step. */
    void advance(float[] condOut, float[] uncondOut) {
        float[] eps = condOut;
        if (uncondOut != null) {
            eps = new float[condOut.length];
            float g = (float) guidance;
            for (int i = 0; i < eps.length; i++) {
                eps[i] = uncondOut[i] + g * (condOut[i] - uncondOut[i]);
            }
        }
        latents = run.step(eps, step, latents, noise);
        step++;
    }
}
