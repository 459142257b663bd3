package dev.kiln.pipeline.stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.Fixtures;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Who runs the UNet calls of {@link LocalDenoiserStage#denoiseAndWait}: the waiting caller while nobody else
 * drives the batch, the loop's own thread otherwise, with the same latents either way.
 */
class CallerDrivenDenoiseTest {
    static ModelCatalog catalog;
    static Conditioning conditioning;

    @BeforeAll
    static void open() {
        catalog = Fixtures.catalog(OnnxRuntimeOptions.cpu().withThreads(1));
        try (LocalEncoderStage encoder = new LocalEncoderStage(catalog)) {
            conditioning = encoder.encode(new EncodeSpec(Fixtures.DIFFUSERS, "a kiln at dusk", "", true));
        }
    }

    @AfterAll
    static void close() {
        catalog.close();
    }

    // the diffusers flavour takes a timestep per row, so requests at different steps share a call
    static DenoiseSpec spec(long seed, int steps) {
        return new DenoiseSpec(Fixtures.DIFFUSERS, conditioning, 64, 64, steps, "ddim", 7.5, new long[] {seed}, null,
                1.0, "teacher");
    }

    static LocalDenoiserStage stage(List<String> threads, List<Integer> rows) {
        LocalDenoiserStage stage = new LocalDenoiserStage(catalog,
                new DenoiseLoopOptions(16, Duration.ZERO, 64, DenoiseLoopOptions.Batching.ITERATION));
        stage.observe((model, r, nanos) -> {
            threads.add(Thread.currentThread().getName());
            rows.add(r);
        });
        return stage;
    }

    /** The latents of {@code spec} denoised alone, through the future, by the loop's own thread. */
    static float[] alone(DenoiseSpec spec) throws Exception {
        List<String> threads = Collections.synchronizedList(new ArrayList<>());
        try (LocalDenoiserStage s = stage(threads, Collections.synchronizedList(new ArrayList<>()))) {
            float[] latents = s.denoise(spec, DenoiseProgress.NONE, () -> false).get(60, TimeUnit.SECONDS).get(0);
            assertTrue(threads.stream().allMatch(t -> t.startsWith("kiln-denoise-")), threads.toString());
            return latents;
        }
    }

    @Test
    void aLoneWaitingCallerRunsItsOwnCallsWithTheSameLatents() throws Exception {
        List<String> threads = Collections.synchronizedList(new ArrayList<>());
        float[] driven;
        try (LocalDenoiserStage s = stage(threads, Collections.synchronizedList(new ArrayList<>()))) {
            driven = s.denoiseAndWait(spec(7, 6), DenoiseProgress.NONE, () -> false).get(0);
        }
        assertEquals(Collections.nCopies(6, Thread.currentThread().getName()), threads);
        assertArrayEquals(alone(spec(7, 6)), driven);
    }

    @Test
    void aCallerWhoseRequestEndsFirstHandsTheRestToTheLoopsThread() throws Exception {
        List<String> threads = Collections.synchronizedList(new ArrayList<>());
        List<Integer> rows = Collections.synchronizedList(new ArrayList<>());
        AtomicReference<CompletableFuture<List<float[]>>> later = new AtomicReference<>();
        float[] first;
        float[] second;
        try (LocalDenoiserStage s = stage(threads, rows)) {
            // the second request arrives during the first one's first step, so it joins the next call
            first = s.denoiseAndWait(spec(1, 4), (step, total, l) -> {
                if (step == 1) {
                    later.set(s.denoise(spec(2, 9), DenoiseProgress.NONE, () -> false));
                }
            }, () -> false).get(0);
            second = later.get().get(60, TimeUnit.SECONDS).get(0);
        }
        String me = Thread.currentThread().getName();
        assertEquals(List.of(me, me, me, me), threads.subList(0, 4), threads.toString());
        assertEquals(List.of(2, 4, 4, 4), rows.subList(0, 4), "one guided image is two rows");
        assertEquals(4 + 6, threads.size(), threads.toString());
        assertTrue(threads.subList(4, 10).stream().allMatch(t -> t.startsWith("kiln-denoise-")), threads.toString());
        assertArrayEquals(alone(spec(1, 4)), first);
        assertArrayEquals(alone(spec(2, 9)), second);
    }

    @Test
    void aCallerWaitsWhileTheLoopsThreadDrives() throws Exception {
        List<String> threads = Collections.synchronizedList(new ArrayList<>());
        AtomicReference<Thread> waiter = new AtomicReference<>();
        AtomicReference<float[]> waited = new AtomicReference<>();
        float[] running;
        try (LocalDenoiserStage s = stage(threads, Collections.synchronizedList(new ArrayList<>()))) {
            running = s.denoise(spec(3, 8), (step, total, l) -> {
                if (step == 1) {
                    Thread t = new Thread(() -> {
                        try {
                            waited.set(s.denoiseAndWait(spec(4, 3), DenoiseProgress.NONE, () -> false).get(0));
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    }, "waiting-caller");
                    waiter.set(t);
                    t.start();
                    // hold this step until the waiting caller's request is queued
                    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    while (s.queueDepth() < 2 && System.nanoTime() < until) {
                        Thread.onSpinWait();
                    }
                }
            }, () -> false).get(60, TimeUnit.SECONDS).get(0);
            waiter.get().join(60_000);
        }
        assertTrue(threads.stream().allMatch(t -> t.startsWith("kiln-denoise-")), threads.toString());
        assertArrayEquals(alone(spec(3, 8)), running);
        assertArrayEquals(alone(spec(4, 3)), waited.get());
    }

    @Test
    void closingWhileACallerDrivesFailsItsRequestInsteadOfHanging() throws Exception {
        LocalDenoiserStage s = stage(Collections.synchronizedList(new ArrayList<>()),
                Collections.synchronizedList(new ArrayList<>()));
        Thread closer = new Thread(s::close, "closer");
        // a future failed with a CancellationException throws it as it is, as CompletableFuture.get does
        assertThrows(CancellationException.class, () -> s.denoiseAndWait(spec(5, 12),
                (step, total, l) -> {
                    if (step == 1) {
                        closer.start();
                        // close() has marked the loop closed once it waits for the loop's thread or for us
                        while (closer.getState() == Thread.State.NEW || closer.getState() == Thread.State.RUNNABLE) {
                            Thread.onSpinWait();
                        }
                    }
                }, () -> false));
        closer.join(30_000);
        assertEquals(Thread.State.TERMINATED, closer.getState());
    }
}
