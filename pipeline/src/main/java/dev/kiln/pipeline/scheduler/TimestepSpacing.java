package dev.kiln.pipeline.scheduler;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * How N sampling timesteps are picked out of the training timesteps ({@code timestep_spacing} in
 * scheduler_config.json; Table 2 of Lin et al., "Common Diffusion Noise Schedules and Sample Steps
 * are Flawed"). Only {@link #TRAILING} and {@link #LINSPACE} start at the last training timestep;
 * {@link #LEADING}, the SD1.x default for DDIM, starts one stride below it.
 */
public enum TimestepSpacing {
    LEADING("leading"),
    TRAILING("trailing"),
    LINSPACE("linspace");

    private final String configName;

    TimestepSpacing(String configName) {
        this.configName = configName;
    }

    /** The spelling used in scheduler_config.json. */
    public String configName() {
        return configName;
    }

    /** Parses the config spelling; anything else is an error that lists the accepted spellings. */
    public static TimestepSpacing fromConfigName(String value) {
        for (TimestepSpacing spacing : values()) {
            if (spacing.configName.equals(value)) {
                return spacing;
            }
        }
        throw new IllegalArgumentException("scheduler config: 'timestep_spacing' must be one of "
                + Arrays.stream(values()).map(TimestepSpacing::configName).collect(Collectors.joining(", "))
                + ", was '" + value + "'");
    }

    /**
     * The timesteps DDIM and Euler use, in order of use (descending), as diffusers computes them:
     * {@code leading} = {@code k·(T//N) + steps_offset}, {@code trailing} = {@code round(T − k·T/N) − 1},
     * {@code linspace} = N points evenly from T−1 down to 0, <em>not</em> rounded (Euler samples between
     * training timesteps; DDIM rounds them itself).
     *
     * @param steps          N, at least 1
     * @param trainTimesteps T
     * @param stepsOffset    added to {@code leading} timesteps only, as in diffusers
     */
    public double[] timesteps(int steps, int trainTimesteps, int stepsOffset) {
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be >= 1, was " + steps);
        }
        double[] out = new double[steps];
        switch (this) {
            case LEADING -> {
                int stride = trainTimesteps / steps;
                for (int k = 0; k < steps; k++) {
                    out[k] = (double) (steps - 1 - k) * stride + stepsOffset;
                }
            }
            case TRAILING -> {
                // numpy's arange(T, 0, -T/N) fills start + k·delta with delta = (T − T/N) − T, which is
                // not always T/N to the last bit; where T/N is inexact (N = 48: 937.5 lands just below)
                // that decides rounding at the .5 ties, so the same delta is used here.
                double delta = (trainTimesteps - (double) trainTimesteps / steps) - trainTimesteps;
                for (int k = 0; k < steps; k++) {
                    out[k] = Math.rint(trainTimesteps + k * delta) - 1;
                }
            }
            case LINSPACE -> {
                fillLinspaceDescending(out, trainTimesteps - 1);
            }
        }
        return out;
    }

    /**
     * {@code out.length} points evenly from {@code last} down to 0, computed as numpy's
     * {@code linspace(0, last, n)[::-1]} does (k·(last/(n−1)), the end pinned to {@code last}); a single
     * point is 0, as numpy gives.
     */
    static void fillLinspaceDescending(double[] out, double last) {
        int n = out.length;
        if (n == 1) {
            out[0] = 0;
            return;
        }
        double step = last / (n - 1);
        for (int k = 0; k < n - 1; k++) {
            out[n - 1 - k] = k * step;
        }
        out[0] = last;
    }
}
