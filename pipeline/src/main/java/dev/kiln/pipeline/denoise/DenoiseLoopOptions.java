package dev.kiln.pipeline.denoise;

import java.time.Duration;

/**
 * How the denoise loop batches.
 *
 * @param maxRows    most UNet rows in one call (an image with guidance takes two)
 * @param maxFillWait longest time an idle loop waits for more requests before the first call of a new batch
 * @param maxQueued  most requests waiting or in flight; beyond it {@link DenoiseLoop#submit} rejects at once
 */
public record DenoiseLoopOptions(int maxRows, Duration maxFillWait, int maxQueued) {
    public DenoiseLoopOptions {
        if (maxRows < 1) {
            throw new IllegalArgumentException("maxRows must be >= 1, was " + maxRows);
        }
        if (maxQueued < 1) {
            throw new IllegalArgumentException("maxQueued must be >= 1, was " + maxQueued);
        }
    }

    public static DenoiseLoopOptions defaults() {
        return new DenoiseLoopOptions(16, Duration.ofMillis(2), 256);
    }
}
