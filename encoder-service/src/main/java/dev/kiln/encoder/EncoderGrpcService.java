package dev.kiln.encoder;

import dev.kiln.pipeline.stage.LocalEncoderStage;
import dev.kiln.protocol.server.EncoderEndpoint;
import dev.kiln.service.LoadedStage;
import dev.kiln.service.StageExecutor;
import dev.kiln.service.StageQueue;
import dev.kiln.service.StageState;
import io.quarkus.grpc.GrpcService;

/**
 * {@code kiln.v1.Encoder}: the tokenizer and text encoder of the stage's models behind the shared endpoint
 * (errors, deadlines, metrics); UNAVAILABLE until the models are loaded.
 */
@GrpcService
public class EncoderGrpcService extends EncoderEndpoint {
    EncoderGrpcService(StageState state, StageQueue queue, StageExecutor executor) {
        super(new LoadedStage<>(state, LocalEncoderStage::new), queue, executor);
    }
}
