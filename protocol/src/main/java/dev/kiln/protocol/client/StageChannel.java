package dev.kiln.protocol.client;

import dev.kiln.pipeline.stage.RequestDeadline;
import dev.kiln.protocol.StageErrors;
import dev.kiln.protocol.TensorCodec;
import io.grpc.ConnectivityState;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.AbstractStub;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The connection to one remote stage: a gRPC channel to {@code address} with message limits that fit
 * Stable Diffusion tensors, the deadline every call carries, and the translation of failed calls into the
 * stage exceptions of {@code pipeline}.
 *
 * <p>A call's deadline is the caller's {@link RequestDeadline} when one is bound, else {@code defaultTimeout},
 * so no call can wait forever. Calls fail at once, not wait, while the stage cannot be reached
 * (gRPC's default, no wait-for-ready): a gateway answers 503 instead of hanging. Once a stage that was down
 * comes back, the next call after a failure reconnects straight away instead of waiting out gRPC's
 * exponential reconnect back-off (up to two minutes).
 */
public final class StageChannel implements AutoCloseable {
    private static final long BACKOFF_RESET_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

    private final String stage;
    private final String address;
    private final ManagedChannel channel;
    private final Duration defaultTimeout;
    private final AtomicLong lastBackoffReset = new AtomicLong(System.nanoTime() - BACKOFF_RESET_NANOS);

    /**
     * @param stage          encoder, denoiser or decoder, for messages
     * @param address        {@code host:port}, or any gRPC target ({@code dns:///stage.svc:9081})
     * @param defaultTimeout deadline of calls made without a {@link RequestDeadline}
     */
    public StageChannel(String stage, String address, Duration defaultTimeout) {
        this.stage = stage;
        this.address = address;
        this.defaultTimeout = defaultTimeout;
        // Responses are handled where they arrive, on the transport's thread: what runs there (completing a
        // future, a progress listener, which must be quick on the in-process loop's thread anyway) costs less
        // than a hand-off to another thread per message.
        this.channel = NettyChannelBuilder.forTarget(address).usePlaintext()
                .directExecutor()
                .maxInboundMessageSize(TensorCodec.MAX_MESSAGE_BYTES)
                .keepAliveTime(30, TimeUnit.SECONDS)
                .build();
    }

    public String stage() {
        return stage;
    }

    public String address() {
        return address;
    }

    public ManagedChannel channel() {
        return channel;
    }

    /** The channel's connectivity, without trying to connect (for readiness reports). */
    public ConnectivityState state() {
        return channel.getState(false);
    }

    /** {@code stub} with the message limits that fit Stable Diffusion tensors, set once per stub. */
    static <S extends AbstractStub<S>> S sized(S stub) {
        return stub.withMaxInboundMessageSize(TensorCodec.MAX_MESSAGE_BYTES)
                .withMaxOutboundMessageSize(TensorCodec.MAX_MESSAGE_BYTES);
    }

    /** {@code stub} with the deadline of the request this thread works on. */
    <S extends AbstractStub<S>> S withDeadline(S stub) {
        long nanos = RequestDeadline.remaining().orElse(defaultTimeout).toNanos();
        return stub.withDeadlineAfter(Math.max(nanos, 1), TimeUnit.NANOSECONDS);
    }

    /** The stage exception for a failed call; also lets the channel reconnect at once if the stage was down. */
    RuntimeException failure(Throwable t) {
        if (t instanceof StatusRuntimeException s && s.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE) {
            long now = System.nanoTime();
            long last = lastBackoffReset.get();
            if (now - last >= BACKOFF_RESET_NANOS && channel.getState(false) == ConnectivityState.TRANSIENT_FAILURE
                    && lastBackoffReset.compareAndSet(last, now)) {
                channel.resetConnectBackoff();
            }
        }
        return StageErrors.toException(t, stage, address);
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
