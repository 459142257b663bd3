package dev.kiln.pipeline.scheduler;

import dev.kiln.pipeline.noise.GaussianNoise;

import java.util.Objects;

/**
 * What every Kiln run shares: a fixed list of timesteps checked against the training range, and
 * the argument checks of {@link SamplingRun#step}, so each sampler's file holds only its update rule.
 */
abstract class ScheduledRun implements SamplingRun {
    private final double[] timesteps;
    private final NoiseSchedule schedule;

    ScheduledRun(double[] timesteps, NoiseSchedule schedule, String description) {
        this.schedule = schedule;
        int last = schedule.trainTimesteps() - 1;
        for (int k = 0; k < timesteps.length; k++) {
            double t = timesteps[k];
            if (!(t >= 0 && t <= last)) {
                throw new IllegalArgumentException(description + " gives timestep " + format(t)
                        + ", outside the training range 0.." + last + "; use fewer steps or another timestep_spacing");
            }
            // a repeated timestep is a step of zero length: DPM-Solver's step ratio would divide by it
            if (k > 0 && !(t < timesteps[k - 1])) {
                throw new IllegalArgumentException(description + " gives timestep " + format(t)
                        + " twice; use fewer steps or another timestep_spacing");
            }
        }
        this.timesteps = timesteps;
    }

    /** Rejects a step count the scheduler cannot plan, naming the scheduler and its limit. */
    static void requireSteps(Scheduler scheduler, int steps) {
        if (steps < 1 || steps > scheduler.maxSteps()) {
            throw new IllegalArgumentException("steps for scheduler " + scheduler.name() + " must be between 1 and "
                    + scheduler.maxSteps() + ", was " + steps);
        }
    }

    @Override
    public final double[] timesteps() {
        return timesteps.clone();
    }

    @Override
    public final int steps() {
        return timesteps.length;
    }

    /** The timestep of {@code step}, without the copy {@link #timesteps()} makes. */
    final double timestep(int step) {
        return timesteps[step];
    }

    final void requireStep(int step) {
        if (step < 0 || step >= timesteps.length) {
            throw new IllegalArgumentException("step " + step + " is outside 0.." + (timesteps.length - 1));
        }
    }

    final void requireSameLength(float[] a, String aName, float[] b, String bName) {
        if (a.length != b.length) {
            throw new IllegalArgumentException(aName + " has " + a.length + " values but " + bName + " has " + b.length);
        }
    }

    /**
     * The fresh noise a stochastic sampler adds after step {@code step}: stream {@code step + 1}, so that
     * it depends on the image's seed and the step alone.
     */
    static float[] freshNoise(GaussianNoise noise, int step, int count, String whyNeeded) {
        Objects.requireNonNull(noise, whyNeeded);
        float[] fresh = noise.gaussian(step + 1, count);
        if (fresh.length != count) {
            throw new IllegalStateException("noise stream " + (step + 1) + " gave " + fresh.length + " values, "
                    + count + " were asked for");
        }
        return fresh;
    }

    @Override
    public void scaleModelInput(float[] sample, int step, float[] out) {
        requireStep(step);
        requireSameLength(sample, "sample", out, "out");
        // variance-preserving samplers feed the sample as it is
        if (out != sample) {
            System.arraycopy(sample, 0, out, 0, sample.length);
        }
    }

    /** Variance-preserving forward noising to the level of {@code timesteps()[step]}. */
    @Override
    public float[] addNoise(float[] original, float[] noise, int step) {
        requireStep(step);
        return schedule.addNoise(original, noise, (int) timestep(step));
    }

    /**
     * The step of consistency-style samplers (LCM, one-step students): estimate the clean sample,
     * combine it as {@code c_out·x0 + c_skip·x}, and unless this is the last step re-noise that estimate to
     * the next timestep with fresh noise of this image.
     */
    final float[] denoiseThenRenoise(float[] modelOutput, int step, float[] sample, GaussianNoise noise,
                                     SchedulerConfig config, double cSkip, double cOut, String whyNoise) {
        requireStep(step);
        requireSameLength(modelOutput, "modelOutput", sample, "sample");
        double alphaBar = schedule.alphaCumprod((int) timestep(step));
        double alpha = Math.sqrt(alphaBar);
        double sigma = Math.sqrt(1.0 - alphaBar);
        PredictionType.Linear estimate = config.predictionType().cleanSampleLinear(1.0, alpha, sigma);
        boolean clip = config.clipSample();
        double range = config.clipSampleRange();
        boolean last = step == steps() - 1;
        float[] fresh = null;
        double nextAlpha = 0;
        double nextSigma = 0;
        if (!last) {
            fresh = freshNoise(noise, step, sample.length, whyNoise);
            double nextAlphaBar = schedule.alphaCumprod((int) timestep(step + 1));
            nextAlpha = Math.sqrt(nextAlphaBar);
            nextSigma = Math.sqrt(1.0 - nextAlphaBar);
        }
        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            double x = sample[i];
            double clean = estimate.perSample() * x + estimate.perOutput() * modelOutput[i];
            if (clip) {
                clean = Math.max(-range, Math.min(range, clean));
            }
            double denoised = cOut * clean + cSkip * x;
            out[i] = (float) (last ? denoised : nextAlpha * denoised + nextSigma * fresh[i]);
        }
        return out;
    }

    private static String format(double t) {
        return t == Math.rint(t) ? Long.toString((long) t) : Double.toString(t);
    }
}
