package dev.kiln.encoder;

import dev.kiln.pipeline.stage.LocalEncoderStage;
import dev.kiln.protocol.server.EncoderEndpoint;
import dev.kiln.service.LoadedStage;
import dev.kiln.service.StageExecutor;
import dev.kiln.service.StageQueue;
import dev.kiln.service.StageState;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.grpc.GrpcService;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * {@code kiln.v1.Encoder}: the tokenizer and text encoder of the stage's models behind the shared endpoint
 * (errors, deadlines, metrics); UNAVAILABLE until the models are loaded. The prompts of requests encoding at
 * the same time share text encoder calls, up to {@code kiln.encoder.max-batch-rows} per call, each counted in
 * {@code kiln_encoder_batch_size{model}} (prompts).
 */
@GrpcService
public class EncoderGrpcService extends EncoderEndpoint {
    static final String BATCH_METRIC = "kiln.encoder.batch.size";

    EncoderGrpcService(StageState state, StageQueue queue, StageExecutor executor, MeterRegistry registry,
                       @ConfigProperty(name = "kiln.encoder.max-batch-rows") int maxRows) {
        super(new LoadedStage<>(state, catalog -> {
            LocalEncoderStage stage = new LocalEncoderStage(catalog, maxRows);
            // no base unit: the series must be kiln_encoder_batch_size
            stage.observe((model, prompts) -> DistributionSummary.builder(BATCH_METRIC)
                    .description("Prompts per text encoder call").tag("model", model).publishPercentileHistogram()
                    .register(registry).record(prompts));
            return stage;
        }), queue, executor);
    }
}
