package dev.kiln.protocol.client;

import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.stage.DecodeSpec;
import dev.kiln.pipeline.stage.DecoderStage;
import dev.kiln.protocol.StageMessages;
import dev.kiln.protocol.TensorCodec;
import dev.kiln.protocol.v1.DecoderGrpc;
import io.grpc.StatusRuntimeException;
import java.util.List;

/** The decoder stage behind {@code kiln.v1.Decoder}. */
public final class GrpcDecoderStage implements DecoderStage {
    private final StageChannel channel;
    private final DecoderGrpc.DecoderBlockingStub stub;

    public GrpcDecoderStage(StageChannel channel) {
        this.channel = channel;
        this.stub = StageChannel.sized(DecoderGrpc.newBlockingStub(channel.channel()));
    }

    @Override
    public List<byte[]> decode(DecodeSpec spec) {
        try {
            return StageMessages.pngs(channel.withDeadline(stub).decode(StageMessages.decodeRequest(spec)));
        } catch (StatusRuntimeException e) {
            throw channel.failure(e);
        }
    }

    @Override
    public float[] encodeImage(String model, RgbImage image, long seed) {
        try {
            return TensorCodec.floats(channel.withDeadline(stub).encodeImage(
                    StageMessages.encodeImageRequest(model, image, seed)).getLatents());
        } catch (StatusRuntimeException e) {
            throw channel.failure(e);
        }
    }
}
