package dev.kiln.pipeline.denoise;

import dev.kiln.pipeline.error.OverloadedException;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The denoiser's worker: one thread that keeps a {@link DenoiseBatch} busy with the images of every
 * submitted request. New requests join between UNet calls, cancelled ones leave between calls, and a
 * full queue rejects a request at once with {@link OverloadedException}.
 */
public final class DenoiseLoop implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DenoiseLoop.class);

    private final DenoiseBatch batch;
    private final DenoiseLoopOptions options;
    private final LinkedBlockingQueue<Job> arrivals = new LinkedBlockingQueue<>();
    private final Map<ImageTrajectory, Job> owners = new IdentityHashMap<>();
    private final List<Job> active = new ArrayList<>();
    private final AtomicInteger depth = new AtomicInteger();
    private final Thread worker;
    /** Under request-level batching: the arrival that did not fit the batch being filled, first in line. */
    private Job held;
    private volatile boolean closed;
    private volatile BatchObserver observer = (rows, nanos) -> { };

    /** Told after each UNet call: how many rows it had and how long it took. */
    @FunctionalInterface
    public interface BatchObserver {
        void onCall(int rows, long nanos);
    }

    private static final class Job {
        final List<ImageTrajectory> images;
        final DenoiseProgress progress;
        final BooleanSupplier cancelled;
        final CompletableFuture<List<float[]>> result = new CompletableFuture<>();
        int lastReported;

        Job(List<ImageTrajectory> images, DenoiseProgress progress, BooleanSupplier cancelled) {
            this.images = images;
            this.progress = progress;
            this.cancelled = cancelled;
        }

        int stepsDone() {
            // a loop, not a stream: asked after every step
            int min = Integer.MAX_VALUE;
            for (ImageTrajectory t : images) {
                min = Math.min(min, t.stepsDone());
            }
            return images.isEmpty() ? 0 : min;
        }

        int total() {
            return images.stream().mapToInt(ImageTrajectory::totalSteps).max().orElse(0);
        }

        int rows() {
            return images.stream().mapToInt(ImageTrajectory::rows).sum();
        }
    }

    public DenoiseLoop(UNet unet, DenoiseLoopOptions options, String name) {
        this.batch = new DenoiseBatch(unet, options.maxRows());
        this.options = options;
        this.worker = new Thread(this::work, "kiln-denoise-" + name);
        this.worker.setDaemon(true);
        this.worker.start();
    }

    public void observe(BatchObserver observer) {
        this.observer = observer;
    }

    /** Requests waiting or in flight: the stage's queue depth. */
    public int queueDepth() {
        return depth.get();
    }

    /**
     * Submits a request's images. The future completes with their final latents, in order; it fails with
     * {@link CancellationException} when {@code cancelled} turns true, checked between UNet calls.
     *
     * @throws OverloadedException when {@code maxQueued} requests are already waiting or in flight
     */
    public CompletableFuture<List<float[]>> submit(List<ImageTrajectory> images, DenoiseProgress progress,
                                                   BooleanSupplier cancelled) {
        if (closed) {
            throw new IllegalStateException("denoise loop is closed");
        }
        if (images.isEmpty()) {
            return CompletableFuture.completedFuture(List.of());
        }
        if (depth.incrementAndGet() > options.maxQueued()) {
            depth.decrementAndGet();
            throw new OverloadedException("the denoiser queue is full (" + options.maxQueued()
                    + " requests); retry shortly", 1);
        }
        Job job = new Job(List.copyOf(images), progress, cancelled);
        arrivals.add(job);
        return job.result;
    }

    private void work() {
        while (!closed) {
            try {
                if (batch.isEmpty()) {
                    Job first = held != null ? held : arrivals.poll(100, TimeUnit.MILLISECONDS);
                    held = null;
                    if (first == null) {
                        continue;
                    }
                    admit(first);
                    fill();
                }
                if (options.batching() == DenoiseLoopOptions.Batching.ITERATION) {
                    drainArrivals();
                }
                dropCancelled();
                if (batch.isEmpty()) {
                    continue;
                }
                long t0 = System.nanoTime();
                DenoiseBatch.Step step = batch.step();
                observer.onCall(step.rows(), System.nanoTime() - t0);
                report(step);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                LOG.error("denoise step failed; failing the requests in flight", e);
                failAll(e);
            }
        }
    }

    /**
     * Waits up to the fill time for more requests while the first call would not be full. Under
     * iteration-level batching a request that nobody else is waiting with starts at once: one that comes
     * later joins at the next step anyway, and waiting for companions who may never come would only delay it.
     */
    private void fill() throws InterruptedException {
        if (options.batching() == DenoiseLoopOptions.Batching.ITERATION && depth.get() <= active.size()) {
            return;
        }
        long deadline = System.nanoTime() + options.maxFillWait().toNanos();
        while (batch.rows() < options.maxRows()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return;
            }
            Job next = arrivals.poll(left, TimeUnit.NANOSECONDS);
            if (next == null) {
                return;
            }
            if (options.batching() == DenoiseLoopOptions.Batching.REQUEST && batch.rows() + next.rows() > options.maxRows()) {
                // a request-level batch is closed once full; the next request opens the following one
                held = next;
                return;
            }
            admit(next);
        }
    }

    private void drainArrivals() {
        Job j;
        while ((j = arrivals.poll()) != null) {
            admit(j);
        }
    }

    private void admit(Job job) {
        active.add(job);
        for (ImageTrajectory t : job.images) {
            owners.put(t, job);
            batch.add(t);
        }
    }

    private void dropCancelled() {
        for (Job job : List.copyOf(active)) {
            boolean cancel;
            try {
                cancel = job.cancelled.getAsBoolean();
            } catch (RuntimeException e) {
                cancel = true;
            }
            if (cancel) {
                // out of the batch before finish() forgets which images are the job's
                batch.removeIf(t -> owners.get(t) == job);
                finish(job);
                job.result.completeExceptionally(new CancellationException("request cancelled"));
            }
        }
    }

    private void report(DenoiseBatch.Step step) {
        List<Job> touched = new ArrayList<>(step.advanced().size());
        for (ImageTrajectory t : step.advanced()) {
            Job job = owners.get(t);
            // a job's images are admitted together, so they are next to each other in the line
            if (touched.isEmpty() || touched.get(touched.size() - 1) != job) {
                touched.add(job);
            }
        }
        for (Job job : touched) {
            if (!active.contains(job)) {
                continue;
            }
            int done = job.stepsDone();
            boolean complete = true;
            for (ImageTrajectory t : job.images) {
                complete &= t.done();
            }
            if (done > job.lastReported) {
                job.lastReported = done;
                if (job.progress != DenoiseProgress.NONE) {
                    try {
                        job.progress.onStep(done, job.total(), job.images.stream().map(ImageTrajectory::latents).toList());
                    } catch (RuntimeException e) {
                        LOG.warn("progress listener failed: {}", e.toString());
                    }
                }
            }
            if (complete) {
                finish(job);
                job.result.complete(job.images.stream().map(ImageTrajectory::latents).toList());
            }
        }
    }

    private void finish(Job job) {
        if (active.remove(job)) {
            job.images.forEach(owners::remove);
            depth.decrementAndGet();
        }
    }

    private void failAll(RuntimeException e) {
        for (Job job : List.copyOf(active)) {
            finish(job);
            job.result.completeExceptionally(e);
        }
        batch.removeIf(t -> true);
    }

    @Override
    public void close() {
        closed = true;
        worker.interrupt();
        try {
            worker.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        failAll(new CancellationException("denoiser shutting down"));
        batch.release();
        if (held != null) {
            held.result.completeExceptionally(new CancellationException("denoiser shutting down"));
            held = null;
        }
        Job j;
        while ((j = arrivals.poll()) != null) {
            j.result.completeExceptionally(new CancellationException("denoiser shutting down"));
        }
    }
}
