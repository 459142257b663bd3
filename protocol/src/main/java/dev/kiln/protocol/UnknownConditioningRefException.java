package dev.kiln.protocol;

/**
 * A {@code kiln.v1.Conditioning} stood for kept states by its ref alone, and the receiver does not hold that ref
 * (it restarted, or pushed the ref out for newer ones): the sender should send the tensors again. Crosses the wire
 * as FAILED_PRECONDITION with the ref in {@link StageErrors#UNKNOWN_CONDITIONING_REF}.
 */
public final class UnknownConditioningRefException extends RuntimeException {
    private final String ref;

    public UnknownConditioningRefException(String ref) {
        super("conditioning ref " + ref + " is not held here (the receiver keeps the last " + ConditioningMemory.KEPT
                + "); send its tensors");
        this.ref = ref;
    }

    public String ref() {
        return ref;
    }
}
