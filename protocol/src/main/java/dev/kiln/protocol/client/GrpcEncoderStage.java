package dev.kiln.protocol.client;

import dev.kiln.pipeline.stage.Conditioning;
import dev.kiln.pipeline.stage.EncodeSpec;
import dev.kiln.pipeline.stage.EncoderStage;
import dev.kiln.protocol.StageMessages;
import dev.kiln.protocol.v1.EncoderGrpc;
import io.grpc.StatusRuntimeException;

/** The encoder stage behind {@code kiln.v1.Encoder}. */
public final class GrpcEncoderStage implements EncoderStage {
    private final StageChannel channel;
    private final EncoderGrpc.EncoderBlockingStub stub;

    public GrpcEncoderStage(StageChannel channel) {
        this.channel = channel;
        this.stub = StageChannel.sized(EncoderGrpc.newBlockingStub(channel.channel()));
    }

    @Override
    public Conditioning encode(EncodeSpec spec) {
        try {
            return StageMessages.conditioning(channel.withDeadline(stub).encode(StageMessages.encodeRequest(spec)));
        } catch (StatusRuntimeException e) {
            throw channel.failure(e);
        }
    }
}
