package dev.kiln.protocol;

import dev.kiln.pipeline.error.DeadlineExceededException;
import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.error.ModelLoadException;
import dev.kiln.pipeline.error.ModelNotFoundException;
import dev.kiln.pipeline.error.OverloadedException;
import dev.kiln.pipeline.error.StageUnavailableException;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CancellationException;

/**
 * The stage errors of {@code pipeline} as gRPC statuses and back, so a caller of a remote stage gets the
 * exception an in-process stage would have thrown, with the same message:
 *
 * <table>
 *   <tr><th>exception</th><th>status</th><th>trailer</th></tr>
 *   <tr><td>{@link InvalidRequestException}</td><td>INVALID_ARGUMENT</td><td>{@code kiln-param}: the field</td></tr>
 *   <tr><td>{@link ModelNotFoundException}</td><td>NOT_FOUND</td><td>{@code kiln-model}, {@code kiln-available}</td></tr>
 *   <tr><td>{@link OverloadedException}</td><td>RESOURCE_EXHAUSTED</td><td>{@code retry-after}: seconds</td></tr>
 *   <tr><td>{@link DeadlineExceededException}</td><td>DEADLINE_EXCEEDED</td><td></td></tr>
 *   <tr><td>{@link StageUnavailableException}</td><td>UNAVAILABLE</td><td></td></tr>
 *   <tr><td>{@link CancellationException}</td><td>CANCELLED</td><td></td></tr>
 *   <tr><td>{@link ModelLoadException}</td><td>FAILED_PRECONDITION</td><td></td></tr>
 *   <tr><td>{@link UnknownConditioningRefException}</td><td>FAILED_PRECONDITION</td><td>{@code kiln-unknown-conditioning-ref}:
 *       the ref</td></tr>
 * </table>
 *
 * Anything else is a bug on the stage's side: INTERNAL with the exception's message.
 */
public final class StageErrors {
    public static final Metadata.Key<String> RETRY_AFTER = Metadata.Key.of("retry-after", Metadata.ASCII_STRING_MARSHALLER);
    public static final Metadata.Key<String> PARAM = Metadata.Key.of("kiln-param", Metadata.ASCII_STRING_MARSHALLER);
    public static final Metadata.Key<String> MODEL = Metadata.Key.of("kiln-model", Metadata.ASCII_STRING_MARSHALLER);
    public static final Metadata.Key<String> AVAILABLE = Metadata.Key.of("kiln-available", Metadata.ASCII_STRING_MARSHALLER);
    public static final Metadata.Key<String> UNKNOWN_CONDITIONING_REF =
            Metadata.Key.of("kiln-unknown-conditioning-ref", Metadata.ASCII_STRING_MARSHALLER);

    private StageErrors() {
    }

    /** The status a server answers for a stage's exception. */
    public static StatusRuntimeException toStatus(Throwable e) {
        if (e instanceof StatusRuntimeException s) {
            return s;
        }
        Metadata trailers = new Metadata();
        Status status;
        if (e instanceof InvalidRequestException i) {
            status = Status.INVALID_ARGUMENT;
            if (i.param() != null) {
                trailers.put(PARAM, ascii(i.param()));
            }
        } else if (e instanceof ModelNotFoundException m) {
            status = Status.NOT_FOUND;
            trailers.put(MODEL, ascii(m.model()));
        } else if (e instanceof OverloadedException o) {
            status = Status.RESOURCE_EXHAUSTED;
            trailers.put(RETRY_AFTER, Long.toString(o.retryAfterSeconds()));
        } else if (e instanceof DeadlineExceededException) {
            status = Status.DEADLINE_EXCEEDED;
        } else if (e instanceof StageUnavailableException) {
            status = Status.UNAVAILABLE;
        } else if (e instanceof CancellationException) {
            status = Status.CANCELLED;
        } else if (e instanceof ModelLoadException) {
            status = Status.FAILED_PRECONDITION;
        } else if (e instanceof UnknownConditioningRefException u) {
            status = Status.FAILED_PRECONDITION;
            trailers.put(UNKNOWN_CONDITIONING_REF, ascii(u.ref()));
        } else {
            status = Status.INTERNAL;
        }
        String message = e.getMessage() != null ? e.getMessage() : e.getClass().getName();
        return status.withDescription(message).asRuntimeException(trailers);
    }

    /**
     * The exception a client throws for a failed call to {@code stage} at {@code target}.
     *
     * @param stage  encoder, denoiser or decoder
     * @param target the address called, for messages about a stage that cannot be reached
     */
    public static RuntimeException toException(Throwable failure, String stage, String target) {
        Status status = Status.fromThrowable(failure);
        Metadata trailers = Status.trailersFromThrowable(failure);
        String message = status.getDescription() != null ? status.getDescription() : status.getCode().toString();
        return switch (status.getCode()) {
            case INVALID_ARGUMENT -> new InvalidRequestException(trailer(trailers, PARAM), message);
            case NOT_FOUND -> new RemoteModelNotFound(trailer(trailers, MODEL), message);
            case RESOURCE_EXHAUSTED -> new OverloadedException(message, retryAfter(trailers));
            case DEADLINE_EXCEEDED -> new DeadlineExceededException(stage, "the " + stage + " at " + target
                    + " did not answer within the request's deadline: " + message, failure);
            case CANCELLED -> new CancellationException(message);
            case FAILED_PRECONDITION -> new ModelLoadException(message, failure);
            case UNAVAILABLE -> new StageUnavailableException(stage, "the " + stage + " at " + target
                    + " is unavailable: " + message + "; retry shortly", failure);
            default -> new StageUnavailableException(stage, "the " + stage + " at " + target + " failed ("
                    + status.getCode() + "): " + message, failure);
        };
    }

    /** The outcome label of a finished call, as metrics name it: ok, or the status code in lower case. */
    public static String outcome(Throwable failure) {
        if (failure == null) {
            return "ok";
        }
        return toStatus(failure).getStatus().getCode().name().toLowerCase(Locale.ROOT);
    }

    private static long retryAfter(Metadata trailers) {
        String s = trailer(trailers, RETRY_AFTER);
        try {
            return s == null ? 1 : Math.max(1, Long.parseLong(s.trim()));
        } catch (NumberFormatException e) {
            return 1;
        }
    }

    private static String trailer(Metadata trailers, Metadata.Key<String> key) {
        return trailers == null ? null : trailers.get(key);
    }

    /** Metadata values are ASCII; a model id or field name outside it is replaced rather than dropped. */
    private static String ascii(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            b.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return b.toString();
    }

    /** NOT_FOUND from a remote stage: its message already lists what is available. */
    static final class RemoteModelNotFound extends ModelNotFoundException {
        private final String message;

        RemoteModelNotFound(String model, String message) {
            super(model == null ? "" : model, List.of());
            this.message = message;
        }

        @Override
        public String getMessage() {
            return message;
        }
    }
}
