package dev.kiln.protocol.contract;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.GeneratedImage;
import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.GenerationRequest;
import dev.kiln.pipeline.GenerationResult;
import dev.kiln.pipeline.GenerationSettings;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.error.DeadlineExceededException;
import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.error.ModelNotFoundException;
import dev.kiln.pipeline.error.OverloadedException;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.stage.Conditioning;
import dev.kiln.pipeline.stage.DenoiseSpec;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What every wiring of the stages must do, run against each: the in-process stages and the same stages
 * behind gRPC on loopback. Images are compared byte for byte with an independent in-process pipeline
 * (its own catalog and sessions), so a wiring that changed a single float on the way would fail.
 *
 * <p>The stages under test batch at most {@link #MAX_ROWS} rows and queue at most {@link #MAX_QUEUED}
 * requests, so that overload is reachable.
 */
abstract class StageContractTest {
    static final String DIFFUSERS = "sd15-tiny-diffusers";
    static final String KILN = "sd15-tiny-kiln";
    static final int MAX_ROWS = 8;
    static final int MAX_QUEUED = 3;
    static final DenoiseLoopOptions OPTIONS = new DenoiseLoopOptions(MAX_ROWS, Duration.ZERO, MAX_QUEUED);

    static ModelCatalog referenceCatalog;
    static GenerationPipeline reference;

    /** The pipeline under test. */
    abstract GenerationPipeline wiring();

    /** Requests the serving side's denoiser holds, waiting or in flight. */
    abstract int serverQueueDepth();

    static Path modelsDir() {
        return Path.of(System.getProperty("kiln.models.dir", "../models"));
    }

    static ModelCatalog newCatalog() {
        return ModelCatalog.scan(List.of(modelsDir().resolve("fixtures")), KILN, OnnxRuntimeOptions.cpu().withThreads(1));
    }

    @BeforeAll
    static void openReference() {
        referenceCatalog = newCatalog();
        reference = GenerationPipeline.embedded(referenceCatalog, new DenoiseLoopOptions(2, Duration.ZERO, 64));
    }

    @AfterAll
    static void closeReference() {
        reference.close();
        referenceCatalog.close();
    }

    @AfterEach
    void nothingLeftBehind() throws InterruptedException {
        waitForServerQueue(0, Duration.ofSeconds(10));
    }

    void waitForServerQueue(int depth, Duration within) throws InterruptedException {
        Instant end = Instant.now().plus(within);
        while (serverQueueDepth() != depth && Instant.now().isBefore(end)) {
            Thread.sleep(10);
        }
        assertEquals(depth, serverQueueDepth(), "requests held by the denoiser");
    }

    static GenerationRequest.Builder request(String model, long seed) {
        return GenerationRequest.builder("a kiln firing pots at dusk").model(model).size(64, 64).steps(5)
                .scheduler("euler").guidance(7.5).seed(seed);
    }

    static void assertSameImages(GenerationResult expected, GenerationResult actual) {
        assertEquals(expected.images().size(), actual.images().size());
        for (int i = 0; i < expected.images().size(); i++) {
            GeneratedImage e = expected.images().get(i);
            GeneratedImage a = actual.images().get(i);
            assertEquals(e.seed(), a.seed());
            assertArrayEquals(e.png(), a.png(), "image " + i + " (seed " + e.seed() + ") differs");
        }
        assertEquals(expected.warnings(), actual.warnings());
    }

    @Test
    void sameSeedsGiveByteIdenticalPngsAcrossSchedulersModelsAndOptions() throws Exception {
        List<GenerationRequest> requests = List.of(
                request(KILN, 7).build(),
                request(DIFFUSERS, 8).scheduler("ddim").steps(4).count(2).negativePrompt("blurry").build(),
                request("sd15-tiny-optimum", 9).scheduler("dpmpp_2m").steps(6).build(),
                request(DIFFUSERS, 10).scheduler("lcm").steps(3).guidance(1.0).build(),
                request(KILN, 11).size(128, 64).steps(3).build(),
                request(KILN, 12).prompt("a kiln " + "and a very long prompt that the tokenizer must cut ".repeat(12))
                        .steps(2).build());
        for (GenerationRequest r : requests) {
            assertSameImages(reference.generate(r), wiring().generate(r));
        }
    }

    @Test
    void imageToImageGivesTheSameBytes() throws Exception {
        byte[] init = reference.generate(request(DIFFUSERS, 3).steps(2).build()).images().get(0).png();
        GenerationRequest r = request(DIFFUSERS, 4).initImage(init, 0.6).steps(5).count(2).build();
        assertSameImages(reference.generate(r), wiring().generate(r));
    }

    @Test
    void concurrentRequestsShareBatchesAndStillGiveTheirOwnImages() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(MAX_QUEUED);
        try {
            List<GenerationRequest> requests = new ArrayList<>();
            for (int i = 0; i < MAX_QUEUED; i++) {
                requests.add(request(DIFFUSERS, 100 + i).steps(3 + i).scheduler(i % 2 == 0 ? "euler" : "ddim").build());
            }
            List<CompletableFuture<GenerationResult>> results = new ArrayList<>();
            for (GenerationRequest r : requests) {
                results.add(CompletableFuture.supplyAsync(() -> wiring().generate(r), pool));
            }
            for (int i = 0; i < requests.size(); i++) {
                assertSameImages(reference.generate(requests.get(i)), results.get(i).get(60, TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void progressCountsEveryStepAndPreviewsCarryTheLatents() {
        GenerationRequest r = request(KILN, 21).steps(6).build();
        List<Integer> steps = Collections.synchronizedList(new ArrayList<>());
        List<Integer> previews = Collections.synchronizedList(new ArrayList<>());
        List<float[]> last = new ArrayList<>();
        GenerationPipeline p = wiring();
        p.generate(p.resolve(r), DenoiseProgress.previewing(2, (step, total, latents) -> {
            assertEquals(6, total);
            steps.add(step);
            if (!latents.isEmpty()) {
                previews.add(step);
                last.clear();
                last.addAll(latents);
            }
        }), () -> false);
        assertEquals(List.of(1, 2, 3, 4, 5, 6), steps);
        assertTrue(previews.containsAll(List.of(2, 4, 6)), "previews at every second step: " + previews);

        // the last preview is the final latent (over gRPC at half precision)
        List<float[]> finalLatents = new ArrayList<>();
        reference.generate(reference.resolve(r), (step, total, latents) -> {
            if (step == total) {
                latents.forEach(l -> finalLatents.add(l.clone()));
            }
        }, () -> false);
        assertEquals(1, last.size());
        float[] a = finalLatents.get(0);
        float[] b = last.get(0);
        assertEquals(a.length, b.length);
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i], Math.abs(a[i]) * 1e-3 + 1e-4, "latent " + i);
        }
    }

    @Test
    void cancellingStopsTheRequestAtTheNextStepAndFreesItsPlace() throws Exception {
        GenerationPipeline p = wiring();
        GenerationSettings slow = p.resolve(request(KILN, 31).size(256, 256).steps(150).build());
        AtomicBoolean cancel = new AtomicBoolean();
        AtomicInteger lastStep = new AtomicInteger();
        CountDownLatch started = new CountDownLatch(1);
        CompletableFuture<GenerationResult> run = CompletableFuture.supplyAsync(() -> p.generate(slow, (step, total, l) -> {
            lastStep.set(step);
            started.countDown();
        }, cancel::get));
        assertTrue(started.await(30, TimeUnit.SECONDS));
        cancel.set(true);
        ExecutionException e = assertThrows(ExecutionException.class, () -> run.get(10, TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof CancellationException, "cancelled, not " + e.getCause());
        waitForServerQueue(0, Duration.ofSeconds(5));
        assertTrue(lastStep.get() < 150, "stopped before the end: step " + lastStep.get());

        // the freed place serves the next request, which comes out as it would have anyway
        GenerationRequest next = request(KILN, 32).build();
        assertSameImages(reference.generate(next), p.generate(next));
    }

    @Test
    void aFullQueueRejectsAtOnceWithRetryAfter() throws Exception {
        GenerationPipeline p = wiring();
        AtomicBoolean release = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(MAX_QUEUED);
        List<CompletableFuture<GenerationResult>> held = new ArrayList<>();
        try {
            CountDownLatch started = new CountDownLatch(MAX_QUEUED);
            for (int i = 0; i < MAX_QUEUED; i++) {
                GenerationSettings s = p.resolve(request(KILN, 40 + i).size(128, 128).steps(150).build());
                AtomicBoolean counted = new AtomicBoolean();
                held.add(CompletableFuture.supplyAsync(() -> p.generate(s, (step, total, l) -> {
                    if (counted.compareAndSet(false, true)) {
                        started.countDown();
                    }
                }, release::get), pool));
            }
            assertTrue(started.await(30, TimeUnit.SECONDS), "the queue filled");
            long t0 = System.nanoTime();
            OverloadedException e = assertThrows(OverloadedException.class, () -> p.generate(request(KILN, 50).build()));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(e.retryAfterSeconds() >= 1, "retry after " + e.retryAfterSeconds());
            assertTrue(e.getMessage().contains("queue is full"), e.getMessage());
            // the held requests never finish until released, so a waiting call could only end by the test's timeout
            assertTrue(ms < 30_000, "rejected at once, not after waiting: " + ms + " ms");
        } finally {
            release.set(true);
            for (CompletableFuture<GenerationResult> f : held) {
                try {
                    f.get(30, TimeUnit.SECONDS);
                } catch (ExecutionException expected) {
                    assertTrue(expected.getCause() instanceof CancellationException, expected.getCause().toString());
                }
            }
            pool.shutdownNow();
        }
    }

    @Test
    void aDeadlineStopsTheRequestInTheStagesAndFailsFast() throws Exception {
        GenerationPipeline p = wiring();
        GenerationSettings slow = p.resolve(request(KILN, 60).size(256, 256).steps(150).build());
        AtomicInteger lastStep = new AtomicInteger();
        DeadlineExceededException e = assertThrows(DeadlineExceededException.class,
                () -> p.generate(slow, (step, total, l) -> lastStep.set(step), () -> false, Instant.now().plusMillis(400)));
        assertTrue(lastStep.get() < 150, "gave up at the deadline, before the last step: " + lastStep.get());
        assertTrue(e.getMessage().contains("deadline"), e.getMessage());
        waitForServerQueue(0, Duration.ofSeconds(5));
    }

    @Test
    void errorsKeepTheirKindAndMessage() {
        ModelNotFoundException missing = assertThrows(ModelNotFoundException.class,
                () -> wiring().generate(request("no-such-model", 1).build()));
        assertTrue(missing.getMessage().contains("no-such-model"), missing.getMessage());

        // a scheduler the stage does not know, as a remote gateway could send it, is the denoiser's to refuse
        float[] context = new float[77 * 768];
        DenoiseSpec spec = new DenoiseSpec(KILN, new Conditioning(new long[] {77, 768}, context, context, null, null, "", ""),
                64, 64, 4, "warp-drive", 1.0, new long[] {1}, null, 1.0);
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> {
            try {
                wiring().denoiser().denoise(spec, DenoiseProgress.NONE, () -> false).get(30, TimeUnit.SECONDS);
            } catch (ExecutionException x) {
                throw x.getCause();
            }
        });
        assertEquals("scheduler", e.param());
        assertTrue(e.getMessage().contains("warp-drive"), e.getMessage());
    }

    /**
     * Stable Diffusion's real tensor sizes (the fixtures have SD 1.5's signature): 77x768 fp32 conditioning
     * for cond and uncond, 4x64x64 latents, and eight 512x512 PNGs of incompressible texture in one
     * decoder answer (over gRPC's default 4 MiB limit).
     */
    @Test
    void stableDiffusionSizedTensorsAndImagesPass() throws Exception {
        GenerationRequest r = request(KILN, 70).size(512, 512).steps(1).count(8).build();
        GenerationResult result = wiring().generate(r);
        assertEquals(8, result.images().size());
        long bytes = 0;
        for (GeneratedImage img : result.images()) {
            BufferedImage png = ImageIO.read(new ByteArrayInputStream(img.png()));
            assertEquals(512, png.getWidth());
            assertEquals(512, png.getHeight());
            bytes += img.png().length;
        }
        assertTrue(bytes > 4L * 1024 * 1024, "the images exceed gRPC's default message size: " + bytes);
        assertSameImages(reference.generate(r), result);
    }
}
