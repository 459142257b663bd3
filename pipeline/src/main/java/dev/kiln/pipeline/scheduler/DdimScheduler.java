package dev.kiln.pipeline.scheduler;

import dev.kiln.pipeline.noise.GaussianNoise;

/**
 * DDIM (Song et al.) with η = 0, the deterministic sampler, as diffusers' {@code DDIMScheduler}:
 * {@code x0 = (x − √(1−ᾱ_t)·ε)/√ᾱ_t}, {@code x_prev = √ᾱ_prev·x0 + √(1−ᾱ_prev)·ε}.
 * Default spacing {@code leading}; no input scaling, initial noise sigma 1.
 */
public final class DdimScheduler implements Scheduler {
    private final SchedulerConfig config;
    private final NoiseSchedule schedule;
    /** ᾱ after the last step: 1 (a clean sample) or ᾱ₀, as {@code set_alpha_to_one} says. */
    private final double finalAlphaCumprod;

    public DdimScheduler(SchedulerConfig config) {
        this.config = config;
        this.schedule = NoiseSchedule.of(config);
        this.finalAlphaCumprod = config.setAlphaToOne() ? 1.0 : schedule.alphaCumprod(0);
    }

    @Override
    public String name() {
        return "ddim";
    }

    @Override
    public String displayName() {
        return "DDIM";
    }

    @Override
    public SchedulerConfig config() {
        return config;
    }

    @Override
    public SamplingRun start(int steps) {
        ScheduledRun.requireSteps(this, steps);
        TimestepSpacing spacing = config.timestepSpacing().orElse(TimestepSpacing.LEADING);
        double[] timesteps = spacing.timesteps(steps, config.numTrainTimesteps(), config.stepsOffset());
        for (int k = 0; k < timesteps.length; k++) {
            timesteps[k] = Math.rint(timesteps[k]);
        }
        return new Run(timesteps, steps, spacing);
    }

    private final class Run extends ScheduledRun {
        /**
         * diffusers steps from t to {@code t − T//N} whatever the spacing, not to the next planned
         * timestep; with linspace spacing the two differ slightly, and matching diffusers keeps Kiln's
         * images the same as the reference pipeline's.
         */
        private final int stride;

        Run(double[] timesteps, int steps, TimestepSpacing spacing) {
            super(timesteps, schedule, "DDIM with " + steps + " steps, " + spacing.configName() + " spacing and steps_offset "
                    + config.stepsOffset());
            this.stride = config.numTrainTimesteps() / steps;
        }

        @Override
        public double initNoiseSigma() {
            return 1.0;
        }

        @Override
        public float[] step(float[] modelOutput, int step, float[] sample, GaussianNoise noise) {
            requireStep(step);
            requireSameLength(modelOutput, "modelOutput", sample, "sample");
            int t = (int) timestep(step);
            int previous = t - stride;
            double alphaBar = schedule.alphaCumprod(t);
            double alphaBarPrevious = previous >= 0 ? schedule.alphaCumprod(previous) : finalAlphaCumprod;
            double alpha = Math.sqrt(alphaBar);
            double sigma = Math.sqrt(1.0 - alphaBar);
            double alphaPrevious = Math.sqrt(alphaBarPrevious);
            double sigmaPrevious = Math.sqrt(1.0 - alphaBarPrevious);
            PredictionType prediction = config.predictionType();
            PredictionType.Linear clean = prediction.cleanSampleLinear(1.0, alpha, sigma);
            PredictionType.Linear epsilon = prediction.noiseLinear(alpha, sigma);
            boolean clip = config.clipSample();
            double range = config.clipSampleRange();
            float[] out = new float[sample.length];
            for (int i = 0; i < out.length; i++) {
                double x = sample[i];
                double m = modelOutput[i];
                double x0 = clean.perSample() * x + clean.perOutput() * m;
                // the noise direction is taken from the unclipped estimate, as diffusers does
                double eps = epsilon.perSample() * x + epsilon.perOutput() * m;
                if (clip) {
                    x0 = Math.max(-range, Math.min(range, x0));
                }
                out[i] = (float) (alphaPrevious * x0 + sigmaPrevious * eps);
            }
            return out;
        }

    }
}
