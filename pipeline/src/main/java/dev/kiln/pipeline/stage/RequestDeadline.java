package dev.kiln.pipeline.stage;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The deadline of the request a thread is working on, for stages behind a network: a remote stage client
 * reads it when it starts a call and sends it along (a gRPC deadline), so a stage stops working for a
 * caller that has given up. {@link dev.kiln.pipeline.GenerationPipeline} binds it around its stage calls;
 * in-process stages do not need it, the pipeline checks the deadline between them and the denoiser drops
 * an expired request at its next step.
 */
public final class RequestDeadline {
    private static final ThreadLocal<Instant> CURRENT = new ThreadLocal<>();

    private RequestDeadline() {
    }

    /** The deadline bound to this thread, if any. */
    public static Optional<Instant> current() {
        return Optional.ofNullable(CURRENT.get());
    }

    /** Time left before the bound deadline (negative once passed), if one is bound. */
    public static Optional<Duration> remaining() {
        return current().map(d -> Duration.between(Instant.now(), d));
    }

    /** Runs {@code work} with {@code deadline} bound to this thread, then restores what was bound before. */
    public static <T> T within(Instant deadline, Supplier<T> work) {
        Instant previous = CURRENT.get();
        CURRENT.set(deadline);
        try {
            return work.get();
        } finally {
            if (previous == null) {
                CURRENT.remove();
            } else {
                CURRENT.set(previous);
            }
        }
    }
}
