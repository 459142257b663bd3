package dev.kiln.protocol.server;

import dev.kiln.pipeline.stage.Conditioning;
import dev.kiln.pipeline.stage.EncoderStage;
import dev.kiln.pipeline.text.RecentlyUsed;
import dev.kiln.protocol.ConditioningMemory;
import dev.kiln.protocol.StageMessages;
import dev.kiln.protocol.v1.EncodeRequest;
import dev.kiln.protocol.v1.EncodeResponse;
import dev.kiln.protocol.v1.EncoderGrpc;
import io.grpc.stub.StreamObserver;
import java.security.SecureRandom;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * {@code kiln.v1.Encoder} over any {@link EncoderStage}.
 *
 * <p>Negative prompt states that the stage hands out again as the very same arrays (it keeps its recent negative
 * prompts) get a ref, so a caller that holds them gets the ref alone instead of the tensors. Refs start with a
 * token drawn when this endpoint is made, so a restarted encoder never gives an old ref to other values.
 */
public class EncoderEndpoint extends EncoderGrpc.EncoderImplBase {
    private final Supplier<? extends EncoderStage> stage;
    private final StageMonitor monitor;
    private final Executor executor;
    private final String token = Long.toHexString(new SecureRandom().nextLong());
    private final AtomicLong minted = new AtomicLong();
    /** By model and negative prompt: the arrays last named and their ref. */
    private final RecentlyUsed<Named> named = new RecentlyUsed<>(2 * ConditioningMemory.KEPT);

    private record Named(String ref, float[] k) {
    }

    /**
     * @param stage    the stage; may throw {@link dev.kiln.pipeline.error.StageUnavailableException} while
     *                 the model loads, which callers get as UNAVAILABLE
     * @param executor where encodings run (they block on ONNX Runtime)
     */
    public EncoderEndpoint(Supplier<? extends EncoderStage> stage, StageMonitor monitor, Executor executor) {
        this.stage = stage;
        this.monitor = monitor;
        this.executor = executor;
    }

    @Override
    public void encode(EncodeRequest request, StreamObserver<EncodeResponse> observer) {
        StageCall.unary(executor, monitor, observer, () -> {
            Conditioning c = stage.get().encode(StageMessages.encodeSpec(request));
            if (!c.guided()) {
                return StageMessages.encodeResponse(c);
            }
            String ref = refOf(request.getModelId() + "\n" + request.getNegativePrompt(), c.uncond());
            return StageMessages.encodeResponse(c, ref, ref.equals(request.getHeldUncondRef()));
        });
    }

    /** The ref of these arrays: the one they had when the stage gave them for this key before, else a new one. */
    private String refOf(String key, float[] k) {
        Named known = named.get(key);
        if (known != null && known.k() == k) {
            return known.ref();
        }
        Named fresh = new Named(token + "-" + minted.incrementAndGet(), k);
        named.put(key, fresh);
        return fresh.ref();
    }
}
