package dev.kiln.protocol.client;

import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.stage.DenoiseSpec;
import dev.kiln.pipeline.stage.DenoiserStage;
import dev.kiln.pipeline.stage.Conditioning;
import dev.kiln.pipeline.text.RecentlyUsed;
import dev.kiln.protocol.ConditioningMemory;
import dev.kiln.protocol.StageMessages;
import dev.kiln.protocol.StageErrors;
import dev.kiln.protocol.v1.DenoiseEvent;
import dev.kiln.protocol.v1.DenoiseRequest;
import dev.kiln.protocol.v1.DenoiserGrpc;
import io.grpc.Metadata;
import io.grpc.Status;
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
import java.util.concurrent.atomic.AtomicLong;
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
 *
 * <p>Negative prompt states that came from the encoder under a ref ({@link ConditioningMemory}, shared with
 * {@link GrpcEncoderStage}) travel as that ref alone once the denoiser has taken them with an earlier request;
 * a denoiser that no longer holds them refuses the request (FAILED_PRECONDITION with
 * {@link StageErrors#UNKNOWN_CONDITIONING_REF}), and it is sent again with the tensors.
 */
public final class GrpcDenoiserStage implements DenoiserStage, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GrpcDenoiserStage.class);
    static final long POLL_MILLIS = 50;

    private final StageChannel channel;
    private final DenoiserGrpc.DenoiserStub stub;
    private final ConditioningMemory memory;
    /** Refs the denoiser has taken the tensors of. */
    private final RecentlyUsed<Boolean> denoiserHolds = new RecentlyUsed<>(ConditioningMemory.KEPT);
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicLong byRefCalls = new AtomicLong();
    private final AtomicLong resent = new AtomicLong();
    private final ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kiln-denoiser-cancel-poll");
        t.setDaemon(true);
        return t;
    });

    public GrpcDenoiserStage(StageChannel channel) {
        this(channel, new ConditioningMemory());
    }

    /** @param memory where the encoder client keeps the states it got under refs */
    public GrpcDenoiserStage(StageChannel channel, ConditioningMemory memory) {
        this.channel = channel;
        this.stub = StageChannel.sized(DenoiserGrpc.newStub(channel.channel()));
        this.memory = memory;
    }

    @Override
    public CompletableFuture<List<float[]>> denoise(DenoiseSpec spec, DenoiseProgress progress, BooleanSupplier cancelled) {
        Request request = new Request(spec, progress, cancelled, uncondRef(spec.conditioning()));
        inFlight.incrementAndGet();
        request.result.whenComplete((r, e) -> inFlight.decrementAndGet());
        request.start(request.ref != null && denoiserHolds.get(request.ref) != null);
        request.poll = poller.scheduleWithFixedDelay(request::checkCancelled, POLL_MILLIS, POLL_MILLIS, TimeUnit.MILLISECONDS);
        request.result.whenComplete((r, e) -> {
            request.poll.cancel(false);
            // a caller that cancels the future itself (an interrupted wait) stops the server's work too
            ClientCallStreamObserver<DenoiseRequest> s = request.requestStream;
            if (e instanceof CancellationException && s != null) {
                s.cancel("cancelled by the caller", null);
            }
        });
        return request.result;
    }

    /** The ref of the unconditional states when they are the very arrays kept under it, else null. */
    private String uncondRef(Conditioning c) {
        if (!c.guided()) {
            return null;
        }
        String ref = memory.refOf(c.uncond());
        ConditioningMemory.Held held = ref == null ? null : memory.get(ref);
        return held != null && held.k() == c.uncond() && held.v() == c.uncondV() ? ref : null;
    }

    /** Calls made with the unconditional states as a ref alone, and how many of them were sent again with tensors. */
    long[] byRefCalls() {
        return new long[] {byRefCalls.get(), resent.get()};
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

    /** One request, over one call or, when the denoiser did not hold its ref, two. */
    private final class Request {
        final CompletableFuture<List<float[]>> result = new CompletableFuture<>();
        final DenoiseSpec spec;
        final DenoiseProgress progress;
        final BooleanSupplier cancelled;
        final String ref;
        /** The deadline is the caller's, read on its thread; a second call keeps it. */
        final DenoiserGrpc.DenoiserStub deadlined = channel.withDeadline(stub);
        volatile ClientCallStreamObserver<DenoiseRequest> requestStream;
        volatile ScheduledFuture<?> poll;

        Request(DenoiseSpec spec, DenoiseProgress progress, BooleanSupplier cancelled, String ref) {
            this.spec = spec;
            this.progress = progress;
            this.cancelled = cancelled;
            this.ref = ref;
        }

        void start(boolean byRef) {
            // a caller that watches no progress spares both ends an event per step
            DenoiseRequest message = StageMessages.denoiseRequest(spec, progress.previewEvery(),
                    progress == DenoiseProgress.NONE, ref == null ? "" : ref, byRef);
            if (byRef) {
                byRefCalls.incrementAndGet();
            }
            deadlined.denoise(message, new Call(this, byRef));
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
    }

    private final class Call implements ClientResponseObserver<DenoiseRequest, DenoiseEvent> {
        final Request request;
        final boolean byRef;

        Call(Request request, boolean byRef) {
            this.request = request;
            this.byRef = byRef;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<DenoiseRequest> stream) {
            request.requestStream = stream;
        }

        @Override
        public void onNext(DenoiseEvent event) {
            if (request.ref != null && !byRef) {
                // it answers, so it has taken the tensors under their ref
                denoiserHolds.put(request.ref, Boolean.TRUE);
            }
            switch (event.getEventCase()) {
                case PROGRESS -> {
                    var p = event.getProgress();
                    List<float[]> latents = p.hasLatents() ? StageMessages.latents("latents", p.getLatents()) : List.of();
                    try {
                        request.progress.onStep(p.getStep(), p.getTotal(), latents);
                    } catch (RuntimeException e) {
                        LOG.warn("progress listener failed: {}", e.toString());
                    }
                    request.checkCancelled();
                }
                case RESULT -> request.result.complete(StageMessages.latents("latents", event.getResult().getLatents()));
                default -> LOG.warn("ignoring a denoise event of unknown kind {}", event.getEventCase());
            }
        }

        @Override
        public void onError(Throwable t) {
            if (byRef && unknownRef(t) && !request.result.isDone()) {
                denoiserHolds.remove(request.ref);
                resent.incrementAndGet();
                request.start(false);
                return;
            }
            request.result.completeExceptionally(channel.failure(t));
        }

        private static boolean unknownRef(Throwable t) {
            Status s = Status.fromThrowable(t);
            Metadata trailers = Status.trailersFromThrowable(t);
            return s.getCode() == Status.Code.FAILED_PRECONDITION && trailers != null
                    && trailers.containsKey(StageErrors.UNKNOWN_CONDITIONING_REF);
        }

        @Override
        public void onCompleted() {
            if (!request.result.isDone()) {
                request.result.completeExceptionally(channel.failure(io.grpc.Status.INTERNAL
                        .withDescription("the denoiser ended the stream without a result").asRuntimeException()));
            }
        }
    }
}
