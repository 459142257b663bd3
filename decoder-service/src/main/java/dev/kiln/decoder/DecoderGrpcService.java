package dev.kiln.decoder;

import dev.kiln.pipeline.stage.LocalDecoderStage;
import dev.kiln.protocol.server.DecoderEndpoint;
import dev.kiln.service.LoadedStage;
import dev.kiln.service.StageExecutor;
import dev.kiln.service.StageQueue;
import dev.kiln.service.StageState;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.grpc.GrpcService;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * {@code kiln.v1.Decoder}: the stage's VAE decoders (and encoders, for image-to-image) behind the shared
 * endpoint. Requests arrive on {@code kiln.stage.threads} threads; the pictures of those decoding at the same
 * time share decoder calls, up to {@code kiln.decoder.max-batch-images} pictures and
 * {@code kiln.decoder.max-batch-pixels} output pixels per call, and a picture never depends on what it was
 * decoded with. Every call is counted in {@code kiln_decoder_batch_size{model}} (pictures). The request's
 * {@code decoder} field chooses {@code vae} or {@code consistency} (per-picture seeds).
 */
@GrpcService
public class DecoderGrpcService extends DecoderEndpoint {
    static final String BATCH_METRIC = "kiln.decoder.batch.size";

    DecoderGrpcService(StageState state, StageQueue queue, StageExecutor executor, MeterRegistry registry,
                       @ConfigProperty(name = "kiln.decoder.max-batch-images") int maxImages,
                       @ConfigProperty(name = "kiln.decoder.max-batch-pixels") long maxPixels) {
        super(new LoadedStage<>(state, catalog -> {
            LocalDecoderStage stage = new LocalDecoderStage(catalog, maxImages, maxPixels);
            // no base unit: the series must be kiln_decoder_batch_size, as dashboards name it
            stage.observe((model, pictures) -> DistributionSummary.builder(BATCH_METRIC)
                    .description("Pictures per decoder call").tag("model", model).publishPercentileHistogram()
                    .register(registry).record(pictures));
            return stage;
        }), queue, executor);
    }
}
