package dev.kiln.protocol.client;

import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.stage.DenoiseSpec;
import dev.kiln.pipeline.stage.DenoiserStage;
import dev.kiln.protocol.StageMessages;
import dev.kiln.protocol.v1.DenoiseEvent;
import dev.kiln.protocol.v1.DenoiseRequest;
import dev.kiln.protocol.v1.DenoiserGrpc;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The denoiser stage behind {@code kiln.v1.Denoiser}: one server stream per request, its progress events
 * handed to the caller's {@link DenoiseProgress}.
 *
 * <p>Cancellation travels as a gRPC cancel: the caller's {@code cancelled} flag is polled on every
 * progress event and every {@link #POLL_MILLIS} ms while the request waits in the denoiser's queue, and once
 * it is true the call is cancelled, which makes the denoiser drop the request at its next step. The
 * request's deadline (see {@link StageChannel}) does the same on the server's side when it passes.
 */
public final class GrpcDenoiserStage implements DenoiserStage, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GrpcDenoiserStage.class);
    static final long POLL_MILLIS = 50;

    private final StageChannel channel;
    private final DenoiserGrpc.DenoiserStub stub;
    private final AtomicInteger inFlight = new AtomicInteger();
    private final ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kiln-denoiser-cancel-poll");
        t.setDaemon(true);
        return t;
    });

    public GrpcDenoiserStage(StageChannel channel) {
        this.channel = channel;
        this.stub = StageChannel.sized(DenoiserGrpc.newStub(channel.channel()));
    }

    @Override
    public CompletableFuture<List<float[]>> denoise(DenoiseSpec spec, DenoiseProgress progress, BooleanSupplier cancelled) {
        // a caller that watches no progress spares both ends an event per step
        DenoiseRequest request = StageMessages.denoiseRequest(spec, progress.previewEvery(), progress == DenoiseProgress.NONE);
        Call call = new Call(progress, cancelled);
        inFlight.incrementAndGet();
        call.result.whenComplete((r, e) -> inFlight.decrementAndGet());
        channel.withDeadline(stub).denoise(request, call);
        call.poll = poller.scheduleWithFixedDelay(call::checkCancelled, POLL_MILLIS, POLL_MILLIS, TimeUnit.MILLISECONDS);
        call.result.whenComplete((r, e) -> {
            call.poll.cancel(false);
            // a caller that cancels the future itself (an interrupted wait) stops the server's work too
            ClientCallStreamObserver<DenoiseRequest> s = call.requestStream;
            if (e instanceof CancellationException && s != null) {
                s.cancel("cancelled by the caller", null);
            }
        });
        return call.result;
    }

    /** Calls this client has open. */
    @Override
    public int queueDepth() {
        return inFlight.get();
    }

    @Override
    public void close() {
        poller.shutdownNow();
    }

    private final class Call implements ClientResponseObserver<DenoiseRequest, DenoiseEvent> {
        final CompletableFuture<List<float[]>> result = new CompletableFuture<>();
        final DenoiseProgress progress;
        final BooleanSupplier cancelled;
        volatile ClientCallStreamObserver<DenoiseRequest> requestStream;
        volatile ScheduledFuture<?> poll;

        Call(DenoiseProgress progress, BooleanSupplier cancelled) {
            this.progress = progress;
            this.cancelled = cancelled;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<DenoiseRequest> stream) {
            this.requestStream = stream;
        }

        void checkCancelled() {
            if (result.isDone()) {
                return;
            }
            boolean cancel;
            try {
                cancel = cancelled.getAsBoolean();
            } catch (RuntimeException e) {
                cancel = true;
            }
            if (cancel) {
                result.completeExceptionally(new CancellationException("request cancelled"));
                ClientCallStreamObserver<DenoiseRequest> s = requestStream;
                if (s != null) {
                    s.cancel("cancelled by the caller", null);
                }
            }
        }

        @Override
        public void onNext(DenoiseEvent event) {
            switch (event.getEventCase()) {
                case PROGRESS -> {
                    var p = event.getProgress();
                    List<float[]> latents = p.hasLatents() ? StageMessages.latents("latents", p.getLatents()) : List.of();
                    try {
                        progress.onStep(p.getStep(), p.getTotal(), latents);
                    } catch (RuntimeException e) {
                        LOG.warn("progress listener failed: {}", e.toString());
                    }
                    checkCancelled();
                }
                case RESULT -> result.complete(StageMessages.latents("latents", event.getResult().getLatents()));
                default -> LOG.warn("ignoring a denoise event of unknown kind {}", event.getEventCase());
            }
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(channel.failure(t));
        }

        @Override
        public void onCompleted() {
            if (!result.isDone()) {
                result.completeExceptionally(channel.failure(io.grpc.Status.INTERNAL
                        .withDescription("the denoiser ended the stream without a result").asRuntimeException()));
            }
        }
    }
}
