package dev.kiln.pipeline.scheduler;

import java.util.Arrays;
import java.util.stream.Collectors;

/** How the training noise schedule's betas are laid out ({@code beta_schedule} in scheduler_config.json). */
public enum BetaSchedule {
    /** Betas evenly spaced from beta_start to beta_end (the DDPM paper's schedule). */
    LINEAR("linear"),
    /** Square roots of the betas evenly spaced, then squared: Stable Diffusion's schedule. */
    SCALED_LINEAR("scaled_linear"),
    /** Nichol and Dhariwal's cosine ᾱ(t), with each beta capped at 0.999. */
    SQUAREDCOS_CAP_V2("squaredcos_cap_v2");

    private final String configName;

    BetaSchedule(String configName) {
        this.configName = configName;
    }

    /** The spelling used in scheduler_config.json. */
    public String configName() {
        return configName;
    }

    /** Parses the config spelling; anything else is an error that lists the accepted spellings. */
    public static BetaSchedule fromConfigName(String value) {
        for (BetaSchedule schedule : values()) {
            if (schedule.configName.equals(value)) {
                return schedule;
            }
        }
        throw new IllegalArgumentException("scheduler config: 'beta_schedule' must be one of "
                + Arrays.stream(values()).map(BetaSchedule::configName).collect(Collectors.joining(", "))
                + ", was '" + value + "'");
    }
}
