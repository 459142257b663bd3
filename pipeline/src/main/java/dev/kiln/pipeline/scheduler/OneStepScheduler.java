package dev.kiln.pipeline.scheduler;

import dev.kiln.pipeline.noise.GaussianNoise;

/**
 * Sampling for distribution-matching-distilled students (DMD, DMD2 on SD1.5): the UNet is called at
 * t = 999 on pure noise (unscaled, initial sigma 1) and its output read as a prediction at that
 * timestep, {@code x0 = (z − √(1−ᾱ₉₉₉)·ε)/√ᾱ₉₉₉}, which is the image.
 *
 * <p>The multi-step variant, for students trained on several timesteps (DMD2's four-step model at
 * 999, 749, 499, 249), predicts x0 and re-noises it to the next timestep with fresh noise. N steps
 * sit at {@code T − 1 − ⌊k·T/N⌋}, which gives exactly those four for N = 4 and 999 alone for N = 1.
 */
public final class OneStepScheduler implements Scheduler {
    /** The largest number of timesteps DMD2 students are trained on. */
    public static final int MAX_STEPS = 4;

    private final SchedulerConfig config;
    private final NoiseSchedule schedule;

    public OneStepScheduler(SchedulerConfig config) {
        this.config = config;
        this.schedule = NoiseSchedule.of(config);
    }

    @Override
    public String name() {
        return "onestep";
    }

    @Override
    public String displayName() {
        return "One-step";
    }

    @Override
    public SchedulerConfig config() {
        return config;
    }

    /** The student was distilled from the guided teacher: one conditional pass, no CFG. */
    @Override
    public boolean usesGuidance() {
        return false;
    }

    @Override
    public int maxSteps() {
        return Math.min(MAX_STEPS, config.numTrainTimesteps());
    }

    @Override
    public SamplingRun start(int steps) {
        ScheduledRun.requireSteps(this, steps);
        int trainTimesteps = config.numTrainTimesteps();
        double[] timesteps = new double[steps];
        for (int k = 0; k < steps; k++) {
            timesteps[k] = trainTimesteps - 1 - ((long) k * trainTimesteps) / steps;
        }
        return new Run(timesteps);
    }

    private final class Run extends ScheduledRun {
        Run(double[] timesteps) {
            super(timesteps, schedule, "one-step sampling with " + timesteps.length + " steps");
        }

        @Override
        public double initNoiseSigma() {
            return 1.0;
        }

        @Override
        public float[] step(float[] modelOutput, int step, float[] sample, GaussianNoise noise) {
            // a distilled student predicts the clean sample outright: all c_out, no c_skip
            return denoiseThenRenoise(modelOutput, step, sample, noise, config, 0.0, 1.0,
                    "multi-step one-step sampling re-noises between steps and needs a noise source");
        }

    }
}
