package dev.kiln.pipeline.scheduler;

import dev.kiln.pipeline.noise.GaussianNoise;

/**
 * Multistep latent consistency sampling (Luo et al.), as diffusers' {@code LCMScheduler}.
 *
 * <p>The timesteps come from the distillation's grid, not from {@code timestep_spacing}: the
 * {@code original_inference_steps} (50) points {@code k·(T//50) − 1}, reversed, of which N are picked
 * at {@code ⌊linspace(0, 50, N, endpoint=False)⌋} (N = 4 → 999, 759, 499, 259). Each step applies the
 * consistency boundary condition {@code denoised = c_out·x0 + c_skip·x} with
 * {@code c_skip = σ_d²/((10t)² + σ_d²)}, {@code c_out = 10t/√((10t)² + σ_d²)}, σ_d = 0.5, then re-noises
 * to the next timestep with fresh noise; the last step returns {@code denoised}.
 */
public final class LcmScheduler implements Scheduler {
    /** σ_data of the consistency parameterisation. */
    private static final double SIGMA_DATA = 0.5;

    private final SchedulerConfig config;
    private final NoiseSchedule schedule;

    public LcmScheduler(SchedulerConfig config) {
        if (config.originalInferenceSteps() > config.numTrainTimesteps()) {
            throw new IllegalArgumentException("scheduler config: 'original_inference_steps' (" + config.originalInferenceSteps()
                    + ") must not exceed num_train_timesteps (" + config.numTrainTimesteps() + ") for LCM");
        }
        this.config = config;
        this.schedule = NoiseSchedule.of(config);
    }

    @Override
    public String name() {
        return "lcm";
    }

    @Override
    public String displayName() {
        return "LCM";
    }

    @Override
    public SchedulerConfig config() {
        return config;
    }

    /** Guidance is distilled into the model (or, for LCM-LoRA, meant to stay at 1): one pass per step. */
    @Override
    public boolean usesGuidance() {
        return false;
    }

    /** The distillation grid has {@code original_inference_steps} points; there is nothing finer to pick. */
    @Override
    public int maxSteps() {
        return config.originalInferenceSteps();
    }

    @Override
    public SamplingRun start(int steps) {
        ScheduledRun.requireSteps(this, steps);
        int originSteps = config.originalInferenceSteps();
        int stride = config.numTrainTimesteps() / originSteps;
        double[] timesteps = new double[steps];
        double spacing = (double) originSteps / steps;
        for (int k = 0; k < steps; k++) {
            int index = (int) Math.floor(k * spacing);
            // the reversed grid: index 0 is the last point, originSteps·stride − 1
            timesteps[k] = (double) (originSteps - index) * stride - 1;
        }
        return new Run(timesteps);
    }

    private final class Run extends ScheduledRun {
        Run(double[] timesteps) {
            super(timesteps, schedule, "LCM with " + timesteps.length + " steps");
        }

        @Override
        public double initNoiseSigma() {
            return 1.0;
        }

        @Override
        public float[] step(float[] modelOutput, int step, float[] sample, GaussianNoise noise) {
            requireStep(step);
            double scaledTime = timestep(step) * config.timestepScaling();
            double cSkip = SIGMA_DATA * SIGMA_DATA / (scaledTime * scaledTime + SIGMA_DATA * SIGMA_DATA);
            double cOut = scaledTime / Math.sqrt(scaledTime * scaledTime + SIGMA_DATA * SIGMA_DATA);
            return denoiseThenRenoise(modelOutput, step, sample, noise, config, cSkip, cOut,
                    "LCM re-noises between steps and needs a noise source");
        }

    }
}
