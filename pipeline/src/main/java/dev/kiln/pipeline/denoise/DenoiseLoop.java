package dev.kiln.pipeline.denoise;

import dev.kiln.pipeline.error.OverloadedException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The denoiser's worker: keeps a {@link DenoiseBatch} busy with the images of every submitted request. New
 * requests join between UNet calls, cancelled ones leave between calls, and a full queue rejects a request at
 * once with {@link OverloadedException}.
 *
 * <p>One thread at a time drives the batch (admits arrivals, runs the UNet call, reports). That is the loop's
 * own thread, except for a caller of {@link #run} that finds the loop idle (nobody driving, nothing waiting or in
 * flight): it drives until its own request is done, and hands what is left to the loop's thread.
 * A lone request so never waits for the loop's thread to wake up nor wakes its caller at the end: on these
 * virtual machines each of those hand-offs cost 0.1 ms, a sixth of a 64 px request's whole overhead
 * (bench/ overhead). Under load the loop's thread keeps driving, and callers wait as before.
 */
public final class DenoiseLoop implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DenoiseLoop.class);

    private final DenoiseBatch batch;
    private final DenoiseLoopOptions options;
    /** Guards {@link #arrivals}, {@link #driving} and {@link #closed}; the driver alone touches the rest. */
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when a request arrives while a driver may be waiting to fill its batch. */
    private final Condition arrived = lock.newCondition();
    /** Signalled for the loop's thread: work came while nobody drives, a driver left work behind, or closing. */
    private final Condition undriven = lock.newCondition();
    private final ArrayDeque<Job> arrivals = new ArrayDeque<>();
    private boolean driving;
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
        if (images.isEmpty()) {
            return CompletableFuture.completedFuture(List.of());
        }
        Job job = new Job(List.copyOf(images), progress, cancelled);
        enqueue(job, false);
        return job.result;
    }

    /**
     * Submits a request's images and waits for their final latents, in order. When the loop is idle (nobody
     * driving, nothing waiting or in flight), this thread drives it until this request is done. Fails as
     * {@link CompletableFuture#get()} on {@link #submit}'s future would.
     *
     * @throws OverloadedException when {@code maxQueued} requests are already waiting or in flight
     */
    public List<float[]> run(List<ImageTrajectory> images, DenoiseProgress progress, BooleanSupplier cancelled)
            throws InterruptedException, ExecutionException {
        if (images.isEmpty()) {
            return List.of();
        }
        Job job = new Job(List.copyOf(images), progress, cancelled);
        if (enqueue(job, true)) {
            drive(job);
        }
        try {
            return job.result.get();
        } catch (InterruptedException e) {
            job.result.cancel(true);
            throw e;
        }
    }

    /** Queues {@code job}; true when the caller may drive and now does, the loop having been idle. */
    private boolean enqueue(Job job, boolean mayDrive) {
        if (closed) {
            throw new IllegalStateException("denoise loop is closed");
        }
        if (depth.incrementAndGet() > options.maxQueued()) {
            depth.decrementAndGet();
            throw new OverloadedException("the denoiser queue is full (" + options.maxQueued()
                    + " requests); retry shortly", 1);
        }
        lock.lock();
        try {
            // only an idle loop is taken over: a caller that drives leaves the rest of the batch to the loop's
            // thread when its own request is done, and under load that thread waiting for a core would stall
            // everybody's next step (without a driver, the batch is nobody's to change, so it is read here)
            boolean idle = !driving && !closed && arrivals.isEmpty() && batch.isEmpty() && held == null;
            arrivals.add(job);
            if (mayDrive && idle) {
                driving = true;
                return true;
            }
            (driving ? arrived : undriven).signal();
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** Gives the driver's role up, waking the loop's thread when requests are left. */
    private void release() {
        lock.lock();
        try {
            driving = false;
            if (!batch.isEmpty() || held != null || !arrivals.isEmpty() || closed) {
                undriven.signal();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Drives until {@code until} is done, or, for the loop's thread ({@code until} null), while there is work. */
    private void drive(Job until) {
        try {
            while (!closed && (until == null || !until.result.isDone()) && iterate()) {
                // one UNet call per turn
            }
        } catch (InterruptedException e) {
            // the loop's thread is closing, or a driving caller was interrupted: either way, stop driving here
            Thread.currentThread().interrupt();
        } finally {
            release();
        }
    }

    private void work() {
        while (!closed) {
            lock.lock();
            try {
                while (!closed && (driving || (batch.isEmpty() && held == null && arrivals.isEmpty()))) {
                    undriven.await(100, TimeUnit.MILLISECONDS);
                }
                if (closed) {
                    return;
                }
                driving = true;
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
            drive(null);
            if (Thread.interrupted()) {
                return;
            }
        }
    }

    /** One turn of the driver: admit, drop the cancelled, one UNet call, report. False when there was no work. */
    private boolean iterate() throws InterruptedException {
        try {
            if (batch.isEmpty()) {
                Job first = held != null ? held : nextArrival();
                held = null;
                if (first == null) {
                    return false;
                }
                admit(first);
                fill();
            }
            if (options.batching() == DenoiseLoopOptions.Batching.ITERATION) {
                drainArrivals();
            }
            dropCancelled();
            if (batch.isEmpty()) {
                return true;
            }
            long t0 = System.nanoTime();
            DenoiseBatch.Step step = batch.step();
            observer.onCall(step.rows(), System.nanoTime() - t0);
            report(step);
        } catch (RuntimeException e) {
            LOG.error("denoise step failed; failing the requests in flight", e);
            failAll(e);
        }
        return true;
    }

    private Job nextArrival() {
        lock.lock();
        try {
            return arrivals.poll();
        } finally {
            lock.unlock();
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
            Job next;
            lock.lock();
            try {
                while (arrivals.isEmpty() && left > 0 && !closed) {
                    left = arrived.awaitNanos(left);
                }
                next = arrivals.poll();
            } finally {
                lock.unlock();
            }
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
        takeArrivals().forEach(this::admit);
    }

    /** Every request waiting to be admitted, taken out of the line. */
    private List<Job> takeArrivals() {
        lock.lock();
        try {
            if (arrivals.isEmpty()) {
                return List.of();
            }
            List<Job> come = new ArrayList<>(arrivals);
            arrivals.clear();
            return come;
        } finally {
            lock.unlock();
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
        lock.lock();
        try {
            closed = true;
            undriven.signalAll();
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
        worker.interrupt();
        try {
            worker.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // a caller may still be driving its last UNet call; the batch is its until it lets go
        lock.lock();
        try {
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (driving && System.nanoTime() < until) {
                undriven.await(10, TimeUnit.MILLISECONDS);
            }
            driving = true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            lock.unlock();
        }
        failAll(new CancellationException("denoiser shutting down"));
        batch.release();
        if (held != null) {
            held.result.completeExceptionally(new CancellationException("denoiser shutting down"));
            held = null;
        }
        takeArrivals().forEach(j -> j.result.completeExceptionally(new CancellationException("denoiser shutting down")));
    }
}
