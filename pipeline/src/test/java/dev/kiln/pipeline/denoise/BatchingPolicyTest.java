package dev.kiln.pipeline.denoise;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.Fixtures;
import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.GenerationRequest;
import dev.kiln.pipeline.GenerationSettings;
import dev.kiln.pipeline.error.DeadlineExceededException;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.stage.LocalDenoiserStage;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Iteration-level against request-level batching, and deadlines, on the fixture UNet. */
class BatchingPolicyTest {
    static ModelCatalog catalog;

    @BeforeAll
    static void open() {
        catalog = Fixtures.catalog(OnnxRuntimeOptions.cpu().withThreads(1));
    }

    @AfterAll
    static void close() {
        catalog.close();
    }

    // the diffusers flavour takes a timestep per row, so requests at different steps can share a call
    static GenerationRequest request(long seed, int steps) {
        return GenerationRequest.builder("a kiln").model(Fixtures.DIFFUSERS).size(64, 64).steps(steps).scheduler("ddim")
                .guidance(7.5).seed(seed).build();
    }

    /**
     * Runs request A, and request B once A has taken a step; returns the order in which their steps were
     * reported ("A1", "B1", ...) and each call's row count.
     */
    static List<String> race(DenoiseLoopOptions options, List<Integer> rowsPerCall, List<byte[]> pngs) throws Exception {
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (GenerationPipeline p = GenerationPipeline.embedded(catalog, options)) {
            ((LocalDenoiserStage) p.denoiser()).observe((model, rows, nanos) -> rowsPerCall.add(rows));
            CountDownLatch aStarted = new CountDownLatch(1);
            GenerationSettings a = p.resolve(request(1, 8));
            GenerationSettings b = p.resolve(request(2, 8));
            CompletableFuture<byte[]> fa = CompletableFuture.supplyAsync(() -> p.generate(a, (step, total, l) -> {
                order.add("A" + step);
                aStarted.countDown();
                if (step == 1) {
                    // hold A after its first step until B is queued, so B's arrival never depends on how fast
                    // this machine runs A's remaining steps
                    awaitQueueDepth(p, 2);
                }
            }, () -> false).images().get(0).png(), pool);
            assertTrue(aStarted.await(30, TimeUnit.SECONDS));
            CompletableFuture<byte[]> fb = CompletableFuture.supplyAsync(() -> p.generate(b, (step, total, l) -> {
                order.add("B" + step);
            }, () -> false).images().get(0).png(), pool);
            pngs.add(fa.get(60, TimeUnit.SECONDS));
            pngs.add(fb.get(60, TimeUnit.SECONDS));
        } finally {
            pool.shutdownNow();
        }
        return order;
    }

    static void awaitQueueDepth(GenerationPipeline p, int depth) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (p.denoiser().queueDepth() < depth && System.nanoTime() < end) {
            sleep(1);
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void iterationLevelLetsALaterRequestJoinTheRunningBatch() throws Exception {
        List<Integer> rows = Collections.synchronizedList(new ArrayList<>());
        List<byte[]> pngs = new ArrayList<>();
        List<String> order = race(new DenoiseLoopOptions(4, Duration.ZERO, 8), rows, pngs);
        assertTrue(order.indexOf("B1") < order.indexOf("A8"), "B joined before A finished: " + order);
        assertTrue(rows.contains(4), "some UNet calls carried both requests: " + rows);
        assertSameImagesAsAlone(pngs);
    }

    @Test
    void imagesKeepTheirRowsUntilDoneAndLaterOnesTakeTheRowsTheyLeave() throws Exception {
        // room for two guided images; A runs, and B and C queue while A's first step is reported
        List<Integer> rows = Collections.synchronizedList(new ArrayList<>());
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try (GenerationPipeline p = GenerationPipeline.embedded(catalog, new DenoiseLoopOptions(4, Duration.ZERO, 8))) {
            ((LocalDenoiserStage) p.denoiser()).observe((model, r, nanos) -> rows.add(r));
            CountDownLatch aStarted = new CountDownLatch(1);
            GenerationSettings a = p.resolve(request(1, 8));
            CompletableFuture<?> fa = CompletableFuture.runAsync(() -> p.generate(a, (step, total, l) -> {
                order.add("A" + step);
                aStarted.countDown();
                if (step == 1) {
                    awaitQueueDepth(p, 3);
                }
            }, () -> false), pool);
            assertTrue(aStarted.await(30, TimeUnit.SECONDS));
            List<CompletableFuture<?>> later = new ArrayList<>();
            for (String name : List.of("B", "C")) {
                GenerationSettings s = p.resolve(request(name.equals("B") ? 2 : 3, 8));
                later.add(CompletableFuture.runAsync(() -> p.generate(s, (step, total, l) -> order.add(name + step),
                        () -> false), pool));
            }
            fa.get(60, TimeUnit.SECONDS);
            for (CompletableFuture<?> f : later) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        // B and C came in either order: the first of them joins A at once, the second only once A is done
        String first = order.indexOf("B1") < order.indexOf("C1") ? "B" : "C";
        String second = first.equals("B") ? "C" : "B";
        assertTrue(order.indexOf(first + "1") < order.indexOf("A8"), "the first joined A's calls: " + order);
        assertTrue(order.indexOf(second + "1") > order.indexOf("A8"), "the second waited for A's rows: " + order);
        // A alone, A with the first for 7 calls, the first's last step with the second's first, the second alone
        List<Integer> expected = new ArrayList<>(List.of(2));
        expected.addAll(Collections.nCopies(8, 4));
        expected.addAll(Collections.nCopies(7, 2));
        assertEquals(expected, rows, "rows per call, order " + order);
    }

    @Test
    void requestsThatCannotShareACallTakeTurnsInsteadOfWaitingForEachOther() throws Exception {
        // the kiln flavour takes one timestep per call: B, a step behind A, can never share A's calls
        List<Integer> rows = Collections.synchronizedList(new ArrayList<>());
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try (GenerationPipeline p = GenerationPipeline.embedded(catalog, new DenoiseLoopOptions(4, Duration.ZERO, 8))) {
            ((LocalDenoiserStage) p.denoiser()).observe((model, r, nanos) -> rows.add(r));
            CountDownLatch aStarted = new CountDownLatch(1);
            GenerationSettings a = p.resolve(kilnRequest(5));
            CompletableFuture<?> fa = CompletableFuture.runAsync(() -> p.generate(a, (step, total, l) -> {
                order.add("A" + step);
                aStarted.countDown();
                if (step == 1) {
                    awaitQueueDepth(p, 2);
                }
            }, () -> false), pool);
            assertTrue(aStarted.await(30, TimeUnit.SECONDS));
            GenerationSettings b = p.resolve(kilnRequest(6));
            CompletableFuture<?> fb = CompletableFuture.runAsync(() -> p.generate(b, (step, total, l) -> order.add("B" + step),
                    () -> false), pool);
            fa.get(60, TimeUnit.SECONDS);
            fb.get(60, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
        assertTrue(order.indexOf("B1") < order.indexOf("A8"), "B ran between A's steps: " + order);
        assertEquals(Collections.nCopies(16, 2), rows, "one image per call: " + rows);
    }

    static GenerationRequest kilnRequest(long seed) {
        return GenerationRequest.builder("a kiln").model(Fixtures.KILN).size(64, 64).steps(8).scheduler("ddim")
                .guidance(7.5).seed(seed).build();
    }

    @Test
    void aLoneRequestDoesNotWaitForCompanionsUnderIterationLevelBatching() throws Exception {
        // a fill wait far beyond the test's deadline: only a request that starts at once finishes in time
        try (GenerationPipeline p = GenerationPipeline.embedded(catalog,
                new DenoiseLoopOptions(4, Duration.ofHours(1), 8))) {
            GenerationSettings s = p.resolve(request(4, 2));
            CompletableFuture<byte[]> f = CompletableFuture.supplyAsync(() -> p.generate(s, DenoiseProgress.NONE,
                    () -> false).images().get(0).png());
            assertArrayEquals(f.get(60, TimeUnit.SECONDS), p.generate(request(4, 2)).images().get(0).png());
        }
    }

    @Test
    void requestLevelMakesALaterRequestWaitForTheBatchToEnd() throws Exception {
        List<Integer> rows = Collections.synchronizedList(new ArrayList<>());
        List<byte[]> pngs = new ArrayList<>();
        List<String> order = race(new DenoiseLoopOptions(4, Duration.ZERO, 8, DenoiseLoopOptions.Batching.REQUEST), rows, pngs);
        assertEquals(List.of("A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8"),
                order);
        assertEquals(Collections.nCopies(16, 2), rows, "each call carried one guided image");
        assertSameImagesAsAlone(pngs);
    }

    @Test
    void requestLevelFillsABatchWithRequestsThatArriveTogether() throws Exception {
        List<Integer> rows = Collections.synchronizedList(new ArrayList<>());
        DenoiseLoopOptions options = new DenoiseLoopOptions(4, Duration.ofMillis(500), 8, DenoiseLoopOptions.Batching.REQUEST);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try (GenerationPipeline p = GenerationPipeline.embedded(catalog, options)) {
            ((LocalDenoiserStage) p.denoiser()).observe((model, r, nanos) -> rows.add(r));
            List<CompletableFuture<?>> all = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                GenerationSettings s = p.resolve(request(10 + i, 4));
                all.add(CompletableFuture.runAsync(() -> p.generate(s, DenoiseProgress.NONE, () -> false), pool));
            }
            CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
        } finally {
            pool.shutdownNow();
        }
        // two of three fit in 4 rows and ran together for 4 steps; the third ran alone afterwards
        assertEquals(List.of(4, 4, 4, 4, 2, 2, 2, 2), rows);
    }

    private static void assertSameImagesAsAlone(List<byte[]> pngs) {
        try (GenerationPipeline p = GenerationPipeline.embedded(catalog, new DenoiseLoopOptions(2, Duration.ZERO, 4))) {
            assertArrayEquals(p.generate(request(1, 8)).images().get(0).png(), pngs.get(0));
            assertArrayEquals(p.generate(request(2, 8)).images().get(0).png(), pngs.get(1));
        }
    }

    @Test
    void aDeadlineStopsTheRequestBetweenStepsAndLeavesTheLoopServing() {
        try (GenerationPipeline p = GenerationPipeline.embedded(catalog, new DenoiseLoopOptions(4, Duration.ZERO, 8))) {
            GenerationSettings slow = p.resolve(request(3, 40));
            List<Integer> steps = Collections.synchronizedList(new ArrayList<>());
            DeadlineExceededException e = assertThrows(DeadlineExceededException.class, () -> p.generate(slow,
                    (step, total, l) -> {
                        steps.add(step);
                        sleep(20);
                    }, () -> false, Instant.now().plusMillis(300)));
            assertTrue(steps.size() < 40, "stopped before the last step: " + steps.size());
            assertTrue(e.getMessage().contains("deadline"), e.getMessage());
            assertEquals(0, p.denoiser().queueDepth(), "the expired request left the loop");

            // an already expired deadline fails before any stage runs
            assertThrows(DeadlineExceededException.class, () -> p.generate(slow, DenoiseProgress.NONE, () -> false,
                    Instant.now().minusSeconds(1)));
            // and a generous one changes nothing in the picture
            byte[] within = p.generate(p.resolve(request(3, 4)), DenoiseProgress.NONE, () -> false,
                    Instant.now().plusSeconds(60)).images().get(0).png();
            assertArrayEquals(p.generate(request(3, 4)).images().get(0).png(), within);
        }
    }
}
