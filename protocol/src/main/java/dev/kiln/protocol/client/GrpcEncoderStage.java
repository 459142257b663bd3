package dev.kiln.protocol.client;

import dev.kiln.pipeline.stage.Conditioning;
import dev.kiln.pipeline.stage.EncodeSpec;
import dev.kiln.pipeline.stage.EncoderStage;
import dev.kiln.pipeline.text.RecentlyUsed;
import dev.kiln.protocol.ConditioningMemory;
import dev.kiln.protocol.StageMessages;
import dev.kiln.protocol.UnknownConditioningRefException;
import dev.kiln.protocol.v1.EncodeResponse;
import dev.kiln.protocol.v1.EncoderGrpc;
import io.grpc.StatusRuntimeException;

/**
 * The encoder stage behind {@code kiln.v1.Encoder}. Negative prompt states that come under a ref are kept
 * ({@link ConditioningMemory}); asking for the same negative prompt again, this client says which ref it holds,
 * and the encoder answers with the ref alone while its states are still the ones of that ref.
 */
public final class GrpcEncoderStage implements EncoderStage {
    private final StageChannel channel;
    private final EncoderGrpc.EncoderBlockingStub stub;
    private final ConditioningMemory memory;
    /** By model and negative prompt: the ref their states came under last. */
    private final RecentlyUsed<String> refs = new RecentlyUsed<>(ConditioningMemory.KEPT);

    public GrpcEncoderStage(StageChannel channel) {
        this(channel, new ConditioningMemory());
    }

    /** @param memory where states that come under a ref are kept, for this and the denoiser client */
    public GrpcEncoderStage(StageChannel channel, ConditioningMemory memory) {
        this.channel = channel;
        this.stub = StageChannel.sized(EncoderGrpc.newBlockingStub(channel.channel()));
        this.memory = memory;
    }

    @Override
    public Conditioning encode(EncodeSpec spec) {
        String key = (spec.model() == null ? "" : spec.model()) + "\n"
                + (spec.negativePrompt() == null ? "" : spec.negativePrompt());
        String held = spec.guided() ? refs.get(key) : null;
        if (held != null && memory.get(held) == null) {
            held = null;
        }
        try {
            EncodeResponse response = channel.withDeadline(stub).encode(StageMessages.encodeRequest(spec, held));
            Conditioning c;
            try {
                c = StageMessages.conditioning(response, memory);
            } catch (UnknownConditioningRefException e) {
                // pushed out of the memory by other requests since it was looked up: ask for the tensors
                response = channel.withDeadline(stub).encode(StageMessages.encodeRequest(spec, ""));
                c = StageMessages.conditioning(response, memory);
            }
            if (spec.guided() && !response.getUncond().getRef().isEmpty()) {
                refs.put(key, response.getUncond().getRef());
            }
            return c;
        } catch (StatusRuntimeException e) {
            throw channel.failure(e);
        }
    }
}
