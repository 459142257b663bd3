package dev.kiln.protocol;

import io.grpc.Metadata;

/**
 * A {@code kiln.v1.Conditioning} stood for kept states by its ref alone, and the receiver does not hold that ref
 * (it restarted, or pushed the ref out for newer ones): the sender should send the tensors again.
 */
public final class UnknownConditioningRefException extends RuntimeException {
    /** The trailer, with the ref, by which a FAILED_PRECONDITION answer says so. */
    public static final Metadata.Key<String> TRAILER =
            Metadata.Key.of("kiln-unknown-conditioning-ref", Metadata.ASCII_STRING_MARSHALLER);
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
