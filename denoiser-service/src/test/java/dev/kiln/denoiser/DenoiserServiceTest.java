package dev.kiln.denoiser;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.error.OverloadedException;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.stage.Conditioning;
import dev.kiln.pipeline.stage.DenoiseSpec;
import dev.kiln.pipeline.stage.EncodeSpec;
import dev.kiln.pipeline.stage.LocalEncoderStage;
import dev.kiln.protocol.client.GrpcDenoiserStage;
import dev.kiln.protocol.client.StageChannel;
import io.quarkus.test.junit.QuarkusTest;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The denoiser service with the fixture models and a queue of two ({@code %test.kiln.denoiser.max-queued}),
 * called as the gateway calls it.
 */
@QuarkusTest
class DenoiserServiceTest {
    static ModelCatalog catalog;
    static Conditioning conditioning;

    private StageChannel channel;
    private GrpcDenoiserStage denoiser;

    @BeforeAll
    static void encode() {
        catalog = ModelCatalog.scan(List.of(Path.of(System.getProperty("kiln.models.dir"), "fixtures")), null,
                OnnxRuntimeOptions.cpu());
        try (LocalEncoderStage encoder = new LocalEncoderStage(catalog)) {
            conditioning = encoder.encode(new EncodeSpec("sd15-tiny-diffusers", "a kiln", "", true));
        }
    }

    @AfterAll
    static void close() {
        catalog.close();
    }

    @BeforeEach
    void connectWhenReady() throws InterruptedException {
        Instant end = Instant.now().plusSeconds(60);
        while (given().get("/q/health/ready").statusCode() != 200 && Instant.now().isBefore(end)) {
            Thread.sleep(50);
        }
        int port = ConfigProvider.getConfig().getValue("quarkus.grpc.server.test-port", Integer.class);
        channel = new StageChannel("denoiser", "localhost:" + port, Duration.ofSeconds(60));
        denoiser = new GrpcDenoiserStage(channel);
    }

    @AfterEach
    void disconnect() {
        denoiser.close();
        channel.close();
    }

    static DenoiseSpec spec(int size, int steps, long seed) {
        return new DenoiseSpec("sd15-tiny-diffusers", conditioning, size, size, steps, "euler", 7.5, new long[] {seed},
                null, 1.0);
    }

    @Test
    void aFullQueueIsRefusedAtOnceAndCountedWhileCancelledRequestsLeave() throws Exception {
        AtomicBoolean cancel = new AtomicBoolean();
        CountDownLatch running = new CountDownLatch(2);
        List<CompletableFuture<List<float[]>>> held = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            AtomicBoolean seen = new AtomicBoolean();
            held.add(denoiser.denoise(spec(256, 150, i), (step, total, l) -> {
                if (seen.compareAndSet(false, true)) {
                    running.countDown();
                }
            }, cancel::get));
        }
        assertTrue(running.await(30, TimeUnit.SECONDS));
        String during = given().get("/q/metrics").asString();
        assertTrue(during.contains("kiln_stage_queue_depth{stage=\"denoiser\"} 2.0"), "both counted as held");

        CompletableFuture<List<float[]>> third = denoiser.denoise(spec(64, 2, 9), DenoiseProgress.NONE, () -> false);
        ExecutionException e = assertThrows(ExecutionException.class, () -> third.get(5, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof OverloadedException, e.getCause().toString());
        assertEquals(1, ((OverloadedException) e.getCause()).retryAfterSeconds());

        cancel.set(true);
        for (CompletableFuture<List<float[]>> f : held) {
            // a future failed with a CancellationException rethrows it as such
            assertThrows(CancellationException.class, () -> f.get(10, TimeUnit.SECONDS));
        }
        Instant end = Instant.now().plusSeconds(10);
        while (!given().get("/q/metrics").asString().contains("kiln_stage_queue_depth{stage=\"denoiser\"} 0.0")
                && Instant.now().isBefore(end)) {
            Thread.sleep(20);
        }
        String after = given().get("/q/metrics").asString();
        assertTrue(after.contains("kiln_stage_queue_depth{stage=\"denoiser\"} 0.0"), "cancelled requests left the queue");
        assertTrue(after.contains("kiln_requests_rejected_total{reason=\"queue_full\",stage=\"denoiser\"} 1.0"), after);

        // and the freed places serve again
        assertEquals(1, denoiser.denoise(spec(64, 3, 5), DenoiseProgress.NONE, () -> false).get(30, TimeUnit.SECONDS).size());
    }

    @Test
    void everyUNetCallIsMeasuredPerModel() throws Exception {
        denoiser.denoise(spec(64, 4, 1), DenoiseProgress.NONE, () -> false).get(30, TimeUnit.SECONDS);
        String metrics = given().get("/q/metrics").asString();
        assertTrue(metrics.contains("kiln_denoiser_batch_size_count{model=\"sd15-tiny-diffusers\"}"), "batch size");
        assertTrue(metrics.contains("kiln_denoiser_unet_seconds_count{model=\"sd15-tiny-diffusers\"}"), "UNet timer");
        assertTrue(metrics.contains("kiln_stage_request_seconds_count{outcome=\"ok\",stage=\"denoiser\"}"), "request timer");
    }
}
