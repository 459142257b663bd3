package dev.kiln.protocol.server;

import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.stage.DenoiseSpec;
import dev.kiln.pipeline.stage.DenoiserStage;
import dev.kiln.protocol.ConditioningMemory;
import dev.kiln.protocol.StageErrors;
import dev.kiln.protocol.StageMessages;
import dev.kiln.protocol.v1.DenoiseEvent;
import dev.kiln.protocol.v1.DenoiseRequest;
import dev.kiln.protocol.v1.DenoiserGrpc;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * {@code kiln.v1.Denoiser} over any {@link DenoiserStage}: progress events as the request's images take
 * their steps (only those carrying previews when the request is {@code result_only}), then the result. The
 * stage sees the call as cancelled once the client cancels it or its deadline passes, and drops the request
 * from its batch at the next step; a full queue is answered RESOURCE_EXHAUSTED at once.
 */
public class DenoiserEndpoint extends DenoiserGrpc.DenoiserImplBase {
    private final Supplier<? extends DenoiserStage> stage;
    private final StageMonitor monitor;
    private final Executor executor;
    /** Negative prompt states that gateways sent under a ref, for their requests that send the ref alone. */
    private final ConditioningMemory memory = new ConditioningMemory();

    /**
     * @param executor where requests are checked and submitted (noise is drawn there); the denoising itself
     *                 runs on the stage's own loop
     */
    public DenoiserEndpoint(Supplier<? extends DenoiserStage> stage, StageMonitor monitor, Executor executor) {
        this.stage = stage;
        this.monitor = monitor;
        this.executor = executor;
    }

    @Override
    public void denoise(DenoiseRequest request, StreamObserver<DenoiseEvent> observer) {
        StageMonitor.Call call = monitor.start();
        ServerCallStreamObserver<DenoiseEvent> stream = (ServerCallStreamObserver<DenoiseEvent>) observer;
        Context context = Context.current();
        // with a cancel handler set, onNext after a cancel is dropped instead of throwing
        stream.setOnCancelHandler(() -> { });
        BooleanSupplier cancelled = () -> stream.isCancelled() || context.isCancelled();
        Runnable submit = context.wrap(() -> {
            if (cancelled.getAsBoolean()) {
                call.end(StageErrors.outcome(Status.fromThrowable(context.cancellationCause()).asRuntimeException()));
                return;
            }
            try {
                DenoiseSpec spec = StageMessages.denoiseSpec(request, memory);
                DenoiseProgress progress = events(request, stream, cancelled);
                stage.get().denoise(spec, progress, cancelled).whenComplete((latents, failure) ->
                        finish(stream, call, latents, failure));
            } catch (RuntimeException e) {
                StageCall.fail(stream, call, e);
            }
        });
        try {
            executor.execute(submit);
        } catch (RejectedExecutionException e) {
            StageCall.fail(stream, call, Status.UNAVAILABLE.withDescription("the denoiser is shutting down").asRuntimeException());
        }
    }

    /** The stream's progress events, or none at all for a result-only request that wants no previews. */
    private static DenoiseProgress events(DenoiseRequest request, ServerCallStreamObserver<DenoiseEvent> stream,
                                          BooleanSupplier cancelled) {
        int previewEvery = request.getPreviewEvery();
        boolean resultOnly = request.getResultOnly();
        if (resultOnly && previewEvery == 0) {
            return DenoiseProgress.NONE;
        }
        return (step, total, latents) -> {
            boolean preview = previewEvery > 0 && (step % previewEvery == 0 || step == total);
            if ((preview || !resultOnly) && !cancelled.getAsBoolean()) {
                DenoiseEvent event = StageMessages.progress(step, total, preview ? latents : null);
                synchronized (stream) {
                    stream.onNext(event);
                }
            }
        };
    }

    private static void finish(ServerCallStreamObserver<DenoiseEvent> stream, StageMonitor.Call call,
                               List<float[]> latents, Throwable failure) {
        if (failure instanceof CompletionException c && c.getCause() != null) {
            failure = c.getCause();
        }
        if (failure != null) {
            if (stream.isCancelled()) {
                call.end("cancelled");
                return;
            }
            synchronized (stream) {
                StageCall.fail(stream, call, failure);
            }
            return;
        }
        synchronized (stream) {
            stream.onNext(StageMessages.result(latents));
            stream.onCompleted();
        }
        call.end("ok");
    }
}
