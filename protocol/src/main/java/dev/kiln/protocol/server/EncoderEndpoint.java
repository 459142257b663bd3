package dev.kiln.protocol.server;

import dev.kiln.pipeline.stage.EncoderStage;
import dev.kiln.protocol.StageMessages;
import dev.kiln.protocol.v1.EncodeRequest;
import dev.kiln.protocol.v1.EncodeResponse;
import dev.kiln.protocol.v1.EncoderGrpc;
import io.grpc.stub.StreamObserver;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/** {@code kiln.v1.Encoder} over any {@link EncoderStage}. */
public class EncoderEndpoint extends EncoderGrpc.EncoderImplBase {
    private final Supplier<? extends EncoderStage> stage;
    private final StageMonitor monitor;
    private final Executor executor;

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
        StageCall.unary(executor, monitor, observer,
                () -> StageMessages.encodeResponse(stage.get().encode(StageMessages.encodeSpec(request))));
    }
}
