package dev.kiln.pipeline.denoise;

import java.time.Duration;

/**
 * How the denoise loop batches.
 *
 * @param maxRows     most UNet rows in one call (an image with guidance takes two)
 * @param maxFillWait longest time an idle loop waits for more requests before the first call of a new batch;
 *                    under iteration-level batching only when a request does not come alone (a lone one
 *                    starts at once, and later ones join it between steps)
 * @param maxQueued   most requests waiting or in flight; beyond it {@link DenoiseLoop#submit} rejects at once
 * @param batching    whether requests join a running batch between UNet calls ({@link Batching#ITERATION}) or
 *                    only when the batch has run to its end ({@link Batching#REQUEST}, for comparison)
 */
public record DenoiseLoopOptions(int maxRows, Duration maxFillWait, int maxQueued, Batching batching) {

    /** When waiting requests may enter the batch. */
    public enum Batching {
        /** Between any two UNet calls: a new request starts at the next step (DESIGN.md "Batching"). */
        ITERATION,
        /**
         * Only once every request of the running batch has finished, as a request-level dynamic batcher
         * does. With {@code maxRows} set to one request's rows it processes requests one after another.
         */
        REQUEST
    }

    public DenoiseLoopOptions {
        if (maxRows < 1) {
            throw new IllegalArgumentException("maxRows must be >= 1, was " + maxRows);
        }
        if (maxQueued < 1) {
            throw new IllegalArgumentException("maxQueued must be >= 1, was " + maxQueued);
        }
        if (maxFillWait == null || maxFillWait.isNegative()) {
            throw new IllegalArgumentException("maxFillWait must be >= 0, was " + maxFillWait);
        }
        if (batching == null) {
            throw new IllegalArgumentException("batching must be ITERATION or REQUEST");
        }
    }

    /** Iteration-level batching, the serving default. */
    public DenoiseLoopOptions(int maxRows, Duration maxFillWait, int maxQueued) {
        this(maxRows, maxFillWait, maxQueued, Batching.ITERATION);
    }

    public static DenoiseLoopOptions defaults() {
        return new DenoiseLoopOptions(16, Duration.ofMillis(2), 256);
    }

    public DenoiseLoopOptions withBatching(Batching b) {
        return new DenoiseLoopOptions(maxRows, maxFillWait, maxQueued, b);
    }
}
