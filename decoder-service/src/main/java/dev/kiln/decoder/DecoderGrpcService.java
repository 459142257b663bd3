package dev.kiln.decoder;

import dev.kiln.pipeline.stage.LocalDecoderStage;
import dev.kiln.protocol.server.DecoderEndpoint;
import dev.kiln.service.LoadedStage;
import dev.kiln.service.StageExecutor;
import dev.kiln.service.StageQueue;
import dev.kiln.service.StageState;
import io.quarkus.grpc.GrpcService;

/**
 * {@code kiln.v1.Decoder}: the stage's VAE decoders (and encoders, for image-to-image) behind the shared
 * endpoint. Requests decode in parallel on {@code kiln.stage.threads} threads; within a request each image is
 * one session call, so a picture never depends on what it was decoded with (the consistency decoder runs
 * a request's images as one batch, with per-image seeds). The request's {@code decoder} field chooses
 * {@code vae} or {@code consistency}.
 */
@GrpcService
public class DecoderGrpcService extends DecoderEndpoint {
    DecoderGrpcService(StageState state, StageQueue queue, StageExecutor executor) {
        super(new LoadedStage<>(state, LocalDecoderStage::new), queue, executor);
    }
}
