package dev.kiln.pipeline.error;

/** A stage cannot serve right now (not ready, unreachable, shutting down); the request may be retried. */
public class StageUnavailableException extends RuntimeException {
    private final String stage;

    public StageUnavailableException(String stage, String message, Throwable cause) {
        super(message, cause);
        this.stage = stage;
    }

    public StageUnavailableException(String stage, String message) {
        this(stage, message, null);
    }

    public String stage() {
        return stage;
    }
}
