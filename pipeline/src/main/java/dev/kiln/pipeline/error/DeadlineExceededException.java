package dev.kiln.pipeline.error;

/**
 * A request ran out of the time its caller gave it, somewhere in the stages; the work it started has been
 * stopped (the denoiser drops it at the next step). Retrying with the same deadline under the same load
 * would likely fail again.
 */
public class DeadlineExceededException extends StageUnavailableException {
    public DeadlineExceededException(String stage, String message, Throwable cause) {
        super(stage, message, cause);
    }

    public DeadlineExceededException(String stage, String message) {
        this(stage, message, null);
    }
}
