package dev.kiln.pipeline.decode;

import java.util.Locale;

/**
 * The noise schedule of a consistency decoder: a cosine schedule over 1024 steps,
 * {@code f(s) = cos²((s+0.008)/1.008·π/2)}, and the consistency-model preconditioning with σ_data = 0.5:
 * {@code c_skip = (1/√ᾱ)·σd²/(σ²+σd²)}, {@code c_out = σ·σd/√(σ²+σd²)}, {@code c_in = (1/√ᾱ)/√(σ²+σd²)},
 * where {@code σ = √(1/ᾱ − 1)}.
 *
 * <p>Two readings of ᾱ_t exist and a decoder only works with the one it was trained on:
 * {@link #DISCRETE} is OpenAI's ({@code betas_for_alpha_bar}: β_i = min(1 − f((i+1)/1024)/f(i/1024), 0.999),
 * ᾱ_t their cumulative product, built here in double precision as the reference code does);
 * {@link #CONTINUOUS} evaluates {@code f(t/1024)} directly. A package picks one with {@code kiln.json}'s
 * {@code consistency_schedule}; OpenAI's is the default.
 */
public enum ConsistencySchedule {
    DISCRETE(discreteTable()),
    CONTINUOUS(continuousTable());

    public static final int STEPS = 1024;
    public static final double SIGMA_DATA = 0.5;
    static final double MAX_BETA = 0.999;

    private final double[] alphasCumprod;

    ConsistencySchedule(double[] alphasCumprod) {
        this.alphasCumprod = alphasCumprod;
    }

    /** The schedule a package names ({@code discrete} or {@code continuous}); null or blank for the default. */
    public static ConsistencySchedule named(String name) {
        if (name == null || name.isBlank()) {
            return DISCRETE;
        }
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("consistency_schedule must be discrete or continuous, was '" + name + "'");
        }
    }

    private static double[] discreteTable() {
        double[] ac = new double[1024];
        double prod = 1.0;
        for (int i = 0; i < ac.length; i++) {
            double beta = Math.min(1 - cosine((double) (i + 1) / ac.length) / cosine((double) i / ac.length), 0.999);
            prod *= 1 - beta;
            ac[i] = prod;
        }
        return ac;
    }

    private static double[] continuousTable() {
        double[] ac = new double[1024];
        for (int i = 0; i < ac.length; i++) {
            ac[i] = cosine((double) i / ac.length);
        }
        return ac;
    }

    private static double cosine(double s) {
        double c = Math.cos((s + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    private double check(int t) {
        if (t < 0 || t >= STEPS) {
            throw new IllegalArgumentException("consistency decoder timestep must be in [0, " + STEPS + "), was " + t);
        }
        return alphasCumprod[t];
    }

    /** ᾱ_t. */
    public double alphaBar(int t) {
        return check(t);
    }

    /** σ_t = √(1/ᾱ_t − 1). */
    public double sigma(int t) {
        return Math.sqrt(1 / check(t) - 1);
    }

    public double cSkip(int t) {
        double ac = check(t);
        double s2 = 1 / ac - 1;
        return (1 / Math.sqrt(ac)) * SIGMA_DATA * SIGMA_DATA / (s2 + SIGMA_DATA * SIGMA_DATA);
    }

    public double cOut(int t) {
        double ac = check(t);
        double s2 = 1 / ac - 1;
        return Math.sqrt(s2) * SIGMA_DATA / Math.sqrt(s2 + SIGMA_DATA * SIGMA_DATA);
    }

    public double cIn(int t) {
        double ac = check(t);
        double s2 = 1 / ac - 1;
        return (1 / Math.sqrt(ac)) / Math.sqrt(s2 + SIGMA_DATA * SIGMA_DATA);
    }
}
