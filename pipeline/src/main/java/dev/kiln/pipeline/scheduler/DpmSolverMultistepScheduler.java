package dev.kiln.pipeline.scheduler;

import dev.kiln.pipeline.noise.GaussianNoise;

/**
 * DPM-Solver++ 2M (Lu et al.), as diffusers' {@code DPMSolverMultistepScheduler} with its defaults:
 * algorithm dpmsolver++, solver order 2, midpoint solver, lower_order_final, final σ 0.
 *
 * <p>With {@code α = 1/√(σ²+1)}, {@code s = σ·α} and {@code λ = log α − log s}, a step from σ_s to σ_t
 * ({@code h = λ_t − λ_s}) is {@code x_t = (s_t/s_s)·x − α_t(e^{−h}−1)·x0} and, from the second step on,
 * subtracts {@code ½·α_t(e^{−h}−1)·D1} with {@code D1 = (x0 − x0_prev)/r0}, {@code r0 = h_prev/h}.
 * The first step has no history and the last, to σ = 0, is first order and returns x0.
 *
 * <p>Default spacing {@code linspace}. diffusers spaces this sampler over N+1 points and drops the
 * last (so {@code leading} uses stride {@code T//(N+1)}), unlike DDIM and Euler; Kiln follows it.
 */
public final class DpmSolverMultistepScheduler implements Scheduler {
    private final SchedulerConfig config;
    private final NoiseSchedule schedule;

    public DpmSolverMultistepScheduler(SchedulerConfig config) {
        this.config = config;
        this.schedule = NoiseSchedule.of(config);
    }

    @Override
    public String name() {
        return "dpmpp_2m";
    }

    @Override
    public String displayName() {
        return "DPM++ 2M";
    }

    @Override
    public SchedulerConfig config() {
        return config;
    }

    /** Spacing N+1 points over the T training timesteps leaves room for at most T − 1 distinct steps. */
    @Override
    public int maxSteps() {
        return Math.max(1, config.numTrainTimesteps() - 1);
    }

    @Override
    public SamplingRun start(int steps) {
        ScheduledRun.requireSteps(this, steps);
        TimestepSpacing spacing = config.timestepSpacing().orElse(TimestepSpacing.LINSPACE);
        int trainTimesteps = config.numTrainTimesteps();
        double[] timesteps = switch (spacing) {
            case LINSPACE -> {
                double[] points = new double[steps + 1];
                TimestepSpacing.fillLinspaceDescending(points, trainTimesteps - 1);
                double[] kept = new double[steps];
                for (int k = 0; k < steps; k++) {
                    kept[k] = Math.rint(points[k]);
                }
                yield kept;
            }
            case LEADING -> {
                int stride = trainTimesteps / (steps + 1);
                double[] kept = new double[steps];
                for (int k = 0; k < steps; k++) {
                    kept[k] = (double) (steps - k) * stride + config.stepsOffset();
                }
                yield kept;
            }
            case TRAILING -> spacing.timesteps(steps, trainTimesteps, config.stepsOffset());
        };
        return new Run(timesteps, spacing);
    }

    final class Run extends ScheduledRun {
        /** σ per step, then 0. */
        private final double[] sigmas;
        /** The data prediction of the step before, for the second-order correction; null before any step. */
        private double[] previousClean;
        private int previousStep = -1;

        Run(double[] timesteps, TimestepSpacing spacing) {
            super(timesteps, schedule, "DPM++ 2M with " + timesteps.length + " steps, " + spacing.configName()
                    + " spacing and steps_offset " + config.stepsOffset());
            sigmas = new double[timesteps.length + 1];
            for (int k = 0; k < timesteps.length; k++) {
                sigmas[k] = schedule.sigma((int) timesteps[k]);
            }
        }

        /** The σ schedule of this run, ending with 0. */
        double[] sigmas() {
            return sigmas.clone();
        }

        @Override
        public double initNoiseSigma() {
            return 1.0;
        }

        private static double lambda(double sigma) {
            double alpha = 1.0 / Math.sqrt(sigma * sigma + 1.0);
            return Math.log(alpha) - Math.log(sigma * alpha);
        }

        @Override
        public float[] step(float[] modelOutput, int step, float[] sample, GaussianNoise noise) {
            requireStep(step);
            requireSameLength(modelOutput, "modelOutput", sample, "sample");
            if (previousStep >= 0 && step != previousStep + 1) {
                // the multistep correction pairs this step's prediction with the previous step's
                throw new IllegalStateException("DPM++ 2M steps must be taken in order: step " + step
                        + " after step " + previousStep);
            }
            double sigmaS = sigmas[step];
            double alphaS = 1.0 / Math.sqrt(sigmaS * sigmaS + 1.0);
            double noiseS = sigmaS * alphaS;
            PredictionType prediction = config.predictionType();
            PredictionType.Linear estimate = prediction.cleanSampleLinear(1.0, alphaS, noiseS);
            double[] clean = new double[sample.length];
            for (int i = 0; i < clean.length; i++) {
                clean[i] = estimate.perSample() * sample[i] + estimate.perOutput() * modelOutput[i];
            }
            double[] before = previousClean;
            previousClean = clean;
            previousStep = step;

            float[] out = new float[sample.length];
            double sigmaT = sigmas[step + 1];
            if (sigmaT == 0.0) {
                // to σ = 0 the first-order update's limit (h → ∞) is the data prediction itself
                for (int i = 0; i < out.length; i++) {
                    out[i] = (float) clean[i];
                }
                return out;
            }
            double alphaT = 1.0 / Math.sqrt(sigmaT * sigmaT + 1.0);
            double noiseT = sigmaT * alphaT;
            double h = lambda(sigmaT) - lambda(sigmaS);
            // expm1 keeps e^{−h} − 1 accurate when many small steps make h small
            double coefficient = alphaT * Math.expm1(-h);
            double ratio = noiseT / noiseS;
            if (before == null) {
                for (int i = 0; i < out.length; i++) {
                    out[i] = (float) (ratio * sample[i] - coefficient * clean[i]);
                }
                return out;
            }
            double hPrevious = lambda(sigmaS) - lambda(sigmas[step - 1]);
            double r0 = hPrevious / h;
            for (int i = 0; i < out.length; i++) {
                double d1 = (clean[i] - before[i]) / r0;
                out[i] = (float) (ratio * sample[i] - coefficient * clean[i] - 0.5 * coefficient * d1);
            }
            return out;
        }

    }
}
