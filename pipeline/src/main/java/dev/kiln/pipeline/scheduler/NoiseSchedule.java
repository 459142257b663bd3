package dev.kiln.pipeline.scheduler;

/**
 * The forward (noising) process a model was trained with: per training timestep t the beta,
 * the cumulative signal fraction ᾱ_t = Π(1 − β) and the noise-to-signal ratio σ_t = √((1 − ᾱ_t)/ᾱ_t).
 * Immutable and computed in double, so one instance serves every run of a scheduler.
 */
public final class NoiseSchedule {
    private final double[] betas;
    private final double[] alphasCumprod;
    private final double[] sigmas;

    private NoiseSchedule(double[] betas) {
        this.betas = betas;
        this.alphasCumprod = new double[betas.length];
        this.sigmas = new double[betas.length];
        double product = 1.0;
        for (int t = 0; t < betas.length; t++) {
            product *= 1.0 - betas[t];
            alphasCumprod[t] = product;
            sigmas[t] = Math.sqrt((1.0 - product) / product);
        }
    }

    /** The schedule a config describes: its trained betas if it lists them, else its beta_schedule. */
    public static NoiseSchedule of(SchedulerConfig config) {
        int n = config.numTrainTimesteps();
        if (!config.trainedBetas().isEmpty()) {
            return new NoiseSchedule(config.trainedBetas().stream().mapToDouble(Double::doubleValue).toArray());
        }
        double[] betas = new double[n];
        switch (config.betaSchedule()) {
            case LINEAR -> linspace(config.betaStart(), config.betaEnd(), betas);
            case SCALED_LINEAR -> {
                linspace(Math.sqrt(config.betaStart()), Math.sqrt(config.betaEnd()), betas);
                for (int t = 0; t < n; t++) {
                    betas[t] *= betas[t];
                }
            }
            case SQUAREDCOS_CAP_V2 -> {
                // the cap keeps the last beta below 1, so ᾱ stays positive and σ finite at t = T−1
                for (int t = 0; t < n; t++) {
                    double ratio = cosineAlphaBar((t + 1.0) / n) / cosineAlphaBar((double) t / n);
                    betas[t] = Math.min(1.0 - ratio, 0.999);
                }
            }
        }
        return new NoiseSchedule(betas);
    }

    private static double cosineAlphaBar(double time) {
        double c = Math.cos((time + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    /** numpy's linspace: k·step + start with the end pinned, so a scaled_linear schedule matches diffusers'. */
    private static void linspace(double start, double end, double[] out) {
        int n = out.length;
        if (n == 1) {
            out[0] = start;
            return;
        }
        double step = (end - start) / (n - 1);
        for (int k = 0; k < n; k++) {
            out[k] = k * step + start;
        }
        out[n - 1] = end;
    }

    /** T, the number of training timesteps. */
    public int trainTimesteps() {
        return betas.length;
    }

    public double[] betas() {
        return betas.clone();
    }

    public double[] alphasCumprod() {
        return alphasCumprod.clone();
    }

    /** σ_t for every training timestep, increasing with t. */
    public double[] sigmas() {
        return sigmas.clone();
    }

    public double alphaCumprod(int timestep) {
        return alphasCumprod[checked(timestep)];
    }

    public double sigma(int timestep) {
        return sigmas[checked(timestep)];
    }

    /** σ at the last training timestep, the noisiest level a sampler starts from (≈ 14.6146 for SD1.x). */
    public double sigmaMax() {
        return sigmas[sigmas.length - 1];
    }

    /**
     * σ at a fractional timestep, linear in t between training timesteps and clamped at the ends
     * (numpy's interp, as diffusers' Euler does it).
     */
    public double interpolatedSigma(double timestep) {
        if (!(timestep > 0)) {
            return sigmas[0];
        }
        int last = sigmas.length - 1;
        if (timestep >= last) {
            return sigmas[last];
        }
        int low = (int) Math.floor(timestep);
        double slope = sigmas[low + 1] - sigmas[low];
        return slope * (timestep - low) + sigmas[low];
    }

    /**
     * The forward process q(x_t | x0): {@code √ᾱ_t·original + √(1 − ᾱ_t)·noise}, the image-to-image
     * starting point for samplers that keep a variance-preserving sample.
     */
    public float[] addNoise(float[] original, float[] noise, int timestep) {
        if (original.length != noise.length) {
            throw new IllegalArgumentException("original has " + original.length + " values but noise has " + noise.length);
        }
        double alphaBar = alphaCumprod(timestep);
        double signal = Math.sqrt(alphaBar);
        double noiseScale = Math.sqrt(1.0 - alphaBar);
        float[] out = new float[original.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (signal * original[i] + noiseScale * noise[i]);
        }
        return out;
    }

    private int checked(int timestep) {
        if (timestep < 0 || timestep >= betas.length) {
            throw new IllegalArgumentException("timestep " + timestep + " is outside the training range 0.."
                    + (betas.length - 1));
        }
        return timestep;
    }
}
