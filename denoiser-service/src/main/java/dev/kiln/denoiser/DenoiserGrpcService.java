package dev.kiln.denoiser;

import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.stage.LocalDenoiserStage;
import dev.kiln.protocol.server.DenoiserEndpoint;
import dev.kiln.service.LoadedStage;
import dev.kiln.service.StageExecutor;
import dev.kiln.service.StageQueue;
import dev.kiln.service.StageState;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.grpc.GrpcService;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * {@code kiln.v1.Denoiser}: one iteration-level batching loop per model ({@code kiln.denoiser.*}) behind the
 * shared endpoint. A full queue answers RESOURCE_EXHAUSTED at once; a cancelled call or one past its
 * deadline leaves the batch at the next step. Every UNet call is measured in
 * {@code kiln_denoiser_batch_size{model}} (rows) and {@code kiln_denoiser_unet_seconds{model}}.
 */
@GrpcService
public class DenoiserGrpcService extends DenoiserEndpoint {
    static final String BATCH_METRIC = "kiln.denoiser.batch.size";
    static final String UNET_METRIC = "kiln.denoiser.unet";

    DenoiserGrpcService(StageState state, StageQueue queue, StageExecutor executor, MeterRegistry registry,
                        @ConfigProperty(name = "kiln.denoiser.max-rows") int maxRows,
                        @ConfigProperty(name = "kiln.denoiser.max-fill-wait") Duration maxFillWait,
                        @ConfigProperty(name = "kiln.denoiser.max-queued") int maxQueued,
                        @ConfigProperty(name = "kiln.denoiser.batching", defaultValue = "iteration") String batching) {
        super(stage(state, registry, options(maxRows, maxFillWait, maxQueued, batching)), queue, executor);
    }

    /** Checked at start-up, so a bad setting stops the service instead of failing its first request. */
    static DenoiseLoopOptions options(int maxRows, Duration maxFillWait, int maxQueued, String batching) {
        DenoiseLoopOptions.Batching policy;
        try {
            policy = DenoiseLoopOptions.Batching.valueOf(batching.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("kiln.denoiser.batching must be iteration or request, was '" + batching + "'");
        }
        return new DenoiseLoopOptions(maxRows, maxFillWait, maxQueued, policy);
    }

    private static LoadedStage<LocalDenoiserStage> stage(StageState state, MeterRegistry registry, DenoiseLoopOptions options) {
        return new LoadedStage<>(state, catalog -> {
            LocalDenoiserStage stage = new LocalDenoiserStage(catalog, options);
            stage.observe((model, rows, nanos) -> {
                // no base unit: the series must be kiln_denoiser_batch_size, as dashboards name it
                DistributionSummary.builder(BATCH_METRIC).description("UNet rows per denoiser call")
                        .tag("model", model).publishPercentileHistogram().register(registry).record(rows);
                Timer.builder(UNET_METRIC).description("Time of one batched UNet call")
                        .tag("model", model).publishPercentileHistogram().register(registry).record(nanos, TimeUnit.NANOSECONDS);
            });
            return stage;
        });
    }
}
