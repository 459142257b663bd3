package dev.kiln.pipeline.scheduler;

/**
 * A sampler: given a model's output at one timestep, it moves a sample towards the data.
 *
 * <p>A scheduler is immutable and shared by every request that uses it; the per-image state
 * (which steps, multistep history) lives in the {@link SamplingRun} that {@link #start} returns,
 * one per image.
 */
public interface Scheduler {
    /** Kiln's canonical name, as {@link Schedulers#create} takes it: {@code ddim}, {@code euler}, … */
    String name();

    /** The AUTOMATIC1111 sampler name ("Euler", "DPM++ 2M", …) that generation metadata records. */
    String displayName();

    SchedulerConfig config();

    /**
     * Plans a run of {@code steps} model evaluations for one image.
     *
     * @throws IllegalArgumentException when {@code steps} is below 1 or above {@link #maxSteps()}, or when
     *                                  the config's spacing would put a timestep outside the training range
     */
    SamplingRun start(int steps);

    /**
     * Whether the model is meant to run with classifier-free guidance (a conditional and an
     * unconditional pass per step). Distilled samplers (LCM, one-step) have the guidance baked in
     * and run the conditional pass alone.
     */
    default boolean usesGuidance() {
        return true;
    }

    /** The most steps a run may take. */
    default int maxSteps() {
        return config().numTrainTimesteps();
    }
}
