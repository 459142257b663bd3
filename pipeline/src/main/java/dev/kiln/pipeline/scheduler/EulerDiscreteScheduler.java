package dev.kiln.pipeline.scheduler;

import dev.kiln.pipeline.noise.GaussianNoise;

/**
 * Euler's method on the probability-flow ODE in σ-space (Karras et al.), as diffusers'
 * {@code EulerDiscreteScheduler} without churn: the sample is {@code x0 + σ·ε}, the model sees
 * {@code x/√(σ²+1)}, and {@code x_next = x + (x − x0)/σ·(σ_next − σ)}, ending at σ = 0.
 * Default spacing {@code linspace}, whose timesteps fall between training timesteps and take σ
 * interpolated linearly.
 */
public final class EulerDiscreteScheduler implements Scheduler {
    private final SchedulerConfig config;
    private final NoiseSchedule schedule;

    public EulerDiscreteScheduler(SchedulerConfig config) {
        this.config = config;
        this.schedule = NoiseSchedule.of(config);
    }

    @Override
    public String name() {
        return "euler";
    }

    @Override
    public String displayName() {
        return "Euler";
    }

    @Override
    public SchedulerConfig config() {
        return config;
    }

    @Override
    public SamplingRun start(int steps) {
        ScheduledRun.requireSteps(this, steps);
        TimestepSpacing spacing = config.timestepSpacing().orElse(TimestepSpacing.LINSPACE);
        double[] timesteps = spacing.timesteps(steps, config.numTrainTimesteps(), config.stepsOffset());
        return new Run(timesteps, spacing);
    }

    final class Run extends ScheduledRun {
        /** σ per step, then 0: the level each step lands on is the next entry. */
        private final double[] sigmas;
        private final double initNoiseSigma;

        Run(double[] timesteps, TimestepSpacing spacing) {
            super(timesteps, schedule, "Euler with " + timesteps.length + " steps, " + spacing.configName()
                    + " spacing and steps_offset " + config.stepsOffset());
            sigmas = new double[timesteps.length + 1];
            double top = 0;
            for (int k = 0; k < timesteps.length; k++) {
                sigmas[k] = schedule.interpolatedSigma(timesteps[k]);
                top = Math.max(top, sigmas[k]);
            }
            // diffusers' rule: a leading run starts below σ_max, and its latent gets the extra unit
            // variance of the VP sample; linspace and trailing start at σ_max exactly
            initNoiseSigma = spacing == TimestepSpacing.LEADING ? Math.sqrt(top * top + 1.0) : top;
        }

        /** The σ schedule of this run, ending with 0. */
        double[] sigmas() {
            return sigmas.clone();
        }

        @Override
        public double initNoiseSigma() {
            return initNoiseSigma;
        }

        @Override
        public void scaleModelInput(float[] sample, int step, float[] out) {
            requireStep(step);
            requireSameLength(sample, "sample", out, "out");
            double scale = 1.0 / Math.sqrt(sigmas[step] * sigmas[step] + 1.0);
            for (int i = 0; i < sample.length; i++) {
                out[i] = (float) (sample[i] * scale);
            }
        }

        @Override
        public float[] step(float[] modelOutput, int step, float[] sample, GaussianNoise noise) {
            requireStep(step);
            requireSameLength(modelOutput, "modelOutput", sample, "sample");
            double sigma = sigmas[step];
            double dt = sigmas[step + 1] - sigma;
            // the model saw the variance-preserving sample α·x with α = 1/√(σ²+1); read its output there
            double alpha = 1.0 / Math.sqrt(sigma * sigma + 1.0);
            double noiseScale = sigma * alpha;
            PredictionType prediction = config.predictionType();
            // with clean = perSample·x + perOutput·output the whole step is x' = cx·x + cm·output: no division per element
            PredictionType.Linear estimate = prediction.cleanSampleLinear(alpha, alpha, noiseScale);
            double cx = 1.0 + (1.0 - estimate.perSample()) * dt / sigma;
            double cm = -estimate.perOutput() * dt / sigma;
            float[] out = new float[sample.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) (cx * sample[i] + cm * modelOutput[i]);
            }
            return out;
        }

        @Override
        public float[] addNoise(float[] original, float[] noise, int step) {
            requireStep(step);
            requireSameLength(original, "original", noise, "noise");
            double sigma = sigmas[step];
            float[] out = new float[original.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) (original[i] + sigma * noise[i]);
            }
            return out;
        }
    }
}
