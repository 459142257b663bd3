package dev.kiln.protocol.server;

import dev.kiln.pipeline.stage.DecoderStage;
import dev.kiln.protocol.StageMessages;
import dev.kiln.protocol.TensorCodec;
import dev.kiln.protocol.v1.DecodeRequest;
import dev.kiln.protocol.v1.DecodeResponse;
import dev.kiln.protocol.v1.DecoderGrpc;
import dev.kiln.protocol.v1.EncodeImageRequest;
import dev.kiln.protocol.v1.EncodeImageResponse;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/** {@code kiln.v1.Decoder} over any {@link DecoderStage}; both calls count in the one decoder queue. */
public class DecoderEndpoint extends DecoderGrpc.DecoderImplBase {
    private final Supplier<? extends DecoderStage> stage;
    private final StageMonitor monitor;
    private final Executor executor;

    public DecoderEndpoint(Supplier<? extends DecoderStage> stage, StageMonitor monitor, Executor executor) {
        this.stage = stage;
        this.monitor = monitor;
        this.executor = executor;
    }

    @Override
    public void decode(DecodeRequest request, StreamObserver<DecodeResponse> observer) {
        StageCall.unary(executor, monitor, observer,
                () -> StageMessages.decodeResponse(stage.get().decode(StageMessages.decodeSpec(request))));
    }

    @Override
    public void encodeImage(EncodeImageRequest request, StreamObserver<EncodeImageResponse> observer) {
        StageCall.unary(executor, monitor, observer, () -> {
            float[] latents = stage.get().encodeImage(request.getModelId().isEmpty() ? null : request.getModelId(),
                    StageMessages.image(request), request.getSeed());
            return EncodeImageResponse.newBuilder().setLatents(TensorCodec.float32(latents, latents.length)).build();
        });
    }
}
