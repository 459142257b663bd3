package dev.kiln.pipeline.error;

/** The denoiser's queue is full: the caller should retry later instead of waiting without bound. */
public class OverloadedException extends RuntimeException {
    private final long retryAfterSeconds;

    public OverloadedException(String message, long retryAfterSeconds) {
        super(message);
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public long retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
