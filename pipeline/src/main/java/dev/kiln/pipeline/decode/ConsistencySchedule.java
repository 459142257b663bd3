package dev.kiln.pipeline.decode;

/**
 * The noise schedule of OpenAI's consistency decoder: a cosine schedule over 1024 discrete steps
 * ({@code betas_for_alpha_bar} with {@code ᾱ(s) = cos²((s+0.008)/1.008·π/2)}, each β capped at 0.999,
 * ᾱ_t the cumulative product), and the consistency-model preconditioning with σ_data = 0.5:
 * {@code c_skip = (1/√ᾱ)·σd²/(σ²+σd²)}, {@code c_out = σ·σd/√(σ²+σd²)}, {@code c_in = (1/√ᾱ)/√(σ²+σd²)},
 * where {@code σ = √(1/ᾱ − 1)}.
 *
 * <p>The table is built by the cumulative product in double precision, as the reference code does, so the
 * capped last steps come out the same too.
 */
public final class ConsistencySchedule {
    public static final int STEPS = 1024;
    public static final double SIGMA_DATA = 0.5;
    static final double MAX_BETA = 0.999;

    private static final double[] ALPHAS_CUMPROD = build();

    private ConsistencySchedule() {
    }

    private static double[] build() {
        double[] ac = new double[STEPS];
        double prod = 1.0;
        for (int i = 0; i < STEPS; i++) {
            double t1 = (double) i / STEPS;
            double t2 = (double) (i + 1) / STEPS;
            double beta = Math.min(1 - cosineAlphaBar(t2) / cosineAlphaBar(t1), MAX_BETA);
            prod *= 1 - beta;
            ac[i] = prod;
        }
        return ac;
    }

    private static double cosineAlphaBar(double s) {
        double c = Math.cos((s + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    private static double check(int t) {
        if (t < 0 || t >= STEPS) {
            throw new IllegalArgumentException("consistency decoder timestep must be in [0, " + STEPS + "), was " + t);
        }
        return ALPHAS_CUMPROD[t];
    }

    /** ᾱ_t. */
    public static double alphaBar(int t) {
        return check(t);
    }

    /** σ_t = √(1/ᾱ_t − 1). */
    public static double sigma(int t) {
        return Math.sqrt(1 / check(t) - 1);
    }

    public static double cSkip(int t) {
        double ac = check(t);
        double s2 = 1 / ac - 1;
        return (1 / Math.sqrt(ac)) * SIGMA_DATA * SIGMA_DATA / (s2 + SIGMA_DATA * SIGMA_DATA);
    }

    public static double cOut(int t) {
        double ac = check(t);
        double s2 = 1 / ac - 1;
        return Math.sqrt(s2) * SIGMA_DATA / Math.sqrt(s2 + SIGMA_DATA * SIGMA_DATA);
    }

    public static double cIn(int t) {
        double ac = check(t);
        double s2 = 1 / ac - 1;
        return (1 / Math.sqrt(ac)) / Math.sqrt(s2 + SIGMA_DATA * SIGMA_DATA);
    }
}
