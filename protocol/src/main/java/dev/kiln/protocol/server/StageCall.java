package dev.kiln.protocol.server;

import dev.kiln.protocol.StageErrors;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a unary stage call on the stage's executor: counted by the monitor, skipped when the caller has
 * already given up (cancelled or past its deadline) by the time a thread is free, and answered with the
 * status {@link StageErrors} assigns to whatever the stage threw.
 */
final class StageCall {
    private static final Logger LOG = LoggerFactory.getLogger(StageCall.class);

    private StageCall() {
    }

    static <T> void unary(Executor executor, StageMonitor monitor, StreamObserver<T> observer, Supplier<T> work) {
        StageMonitor.Call call = monitor.start();
        Context context = Context.current();
        Runnable task = context.wrap(() -> {
            if (context.isCancelled()) {
                Status s = Status.fromThrowable(context.cancellationCause());
                call.end(StageErrors.outcome(s.asRuntimeException()));
                return;
            }
            T response;
            try {
                response = work.get();
            } catch (RuntimeException | Error e) {
                fail(observer, call, e);
                return;
            }
            observer.onNext(response);
            observer.onCompleted();
            call.end("ok");
        });
        try {
            executor.execute(task);
        } catch (RejectedExecutionException e) {
            fail(observer, call, Status.UNAVAILABLE.withDescription("the stage is shutting down").asRuntimeException());
        }
    }

    static void fail(StreamObserver<?> observer, StageMonitor.Call call, Throwable e) {
        StatusRuntimeException status = StageErrors.toStatus(e);
        if (status.getStatus().getCode() == Status.Code.INTERNAL) {
            LOG.error("stage call failed", e);
        }
        call.end(StageErrors.outcome(status));
        try {
            observer.onError(status);
        } catch (RuntimeException alreadyClosed) {
            // the caller went away (cancelled) while the stage worked; nobody is left to tell
        }
    }
}
