package dev.kiln.gateway.jobs;

import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.error.OverloadedException;
import dev.kiln.pipeline.error.StageUnavailableException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs queued jobs: worker threads claim jobs from the {@link JobStore} and run each through the
 * pipeline; the denoiser batches them with each other and with synchronous requests. Progress goes to
 * {@link JobEvents} (coalesced, on one thread, so the denoising loop never waits for a client), and to the
 * store with each heartbeat. A cancelled job's flag is polled by the denoising loop between steps, so it
 * leaves its batch at the next step.
 */
public final class JobRunner implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(JobRunner.class);

    /** What running a job means; the gateway supplies it. */
    public interface Work {
        /** Whether jobs can run now (models loaded); workers claim nothing before. */
        boolean ready();

        /**
         * Runs {@code job} to its pictures.
         *
         * @param cancelled turns true when the job is cancelled; the pipeline then throws {@link CancellationException}
         */
        Output run(Job job, DenoiseProgress progress, BooleanSupplier cancelled);

        /** A small PNG of these latents of {@code job} (image 0), or null when none can be made. */
        byte[] preview(Job job, float[] latents);

        /** How a failure is reported in the job (the same status and fields the synchronous API answers with). */
        JobError describe(RuntimeException failure);
    }

    /** A finished job's result and pictures. */
    public record Output(JobResult result, List<byte[]> pngs) {
    }

    /**
     * @param instance     this gateway's name in the store; a restarted gateway with the same name takes its running jobs back at once
     * @param workers      jobs run at the same time (each waits on the batched denoiser most of its life)
     * @param maxQueued    queued jobs accepted before submissions are refused with 429
     * @param maxAttempts  starts per job before an interrupted or unavailable-stage job fails for good
     * @param lease        how long a running job's owner may stay silent before another gateway re-queues it
     * @param heartbeat    how often progress and liveness go to the store and cancellations come back
     * @param retryDelay   wait before a job refused by a busy or unavailable stage is tried again
     * @param retention    how long finished jobs and their pictures are kept
     */
    public record Options(String instance, int workers, int maxQueued, int maxAttempts, Duration lease,
                          Duration heartbeat, Duration retryDelay, Duration retention) {
    }

    private final JobStore store;
    private final Work work;
    private final JobEvents events;
    private final Options options;
    private final Clock clock;
    private final Map<String, Running> running = new ConcurrentHashMap<>();
    private final Semaphore wake = new Semaphore(0);
    private final ExecutorService publisher = Executors.newSingleThreadExecutor(r -> daemon(r, "kiln-job-events"));
    private final ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "kiln-job-heartbeat"));
    private final List<Thread> workers = new ArrayList<>();
    private volatile boolean closing;
    private long ticks;

    /** A job this runner is running right now. */
    private final class Running {
        final Job job;
        final AtomicBoolean cancel = new AtomicBoolean();
        final AtomicBoolean scheduled = new AtomicBoolean();
        final AtomicReference<float[]> previewLatents = new AtomicReference<>();
        volatile int step;
        volatile int total;
        /** Cancelled by a client rather than stopped by this gateway's shutdown. */
        volatile boolean byClient;

        void cancelByClient() {
            byClient = true;
            cancel.set(true);
        }

        Running(Job job) {
            this.job = job;
            this.total = job.totalSteps();
        }

        void onStep(int done, int steps, List<float[]> latents) {
            step = done;
            total = steps;
            int every = Math.max(1, Math.round(steps / 10f));
            if (done < steps && done % every == 0 && !latents.isEmpty() && events.wantsPreview(job.id())) {
                previewLatents.set(latents.get(0).clone());
            }
            if (scheduled.compareAndSet(false, true)) {
                publisher.execute(this::relay);
            }
        }

        /** Publishes the latest step; steps that came while the previous one was being published are skipped. */
        private void relay() {
            scheduled.set(false);
            int done = step;
            int steps = total;
            float[] latents = previewLatents.getAndSet(null);
            byte[] preview = null;
            if (latents != null) {
                try {
                    preview = work.preview(job, latents);
                } catch (RuntimeException e) {
                    LOG.debug("no preview for job {}: {}", job.id(), e.toString());
                }
            }
            events.publish(JobEvent.step(job.id(), done, steps, preview));
        }
    }

    public JobRunner(JobStore store, Work work, JobEvents events, Options options, Clock clock) {
        this.store = store;
        this.work = work;
        this.events = events;
        this.options = options;
        this.clock = clock;
    }

    /** Takes back the jobs a previous run of this gateway left behind, then starts the workers. */
    public void start() {
        int[] r = store.recover(options.instance(), options.lease(), options.maxAttempts());
        if (r[0] + r[1] > 0) {
            LOG.info("jobs left running by a previous gateway: {} re-queued, {} failed after {} attempts",
                    r[0], r[1], options.maxAttempts());
        }
        for (int i = 0; i < options.workers(); i++) {
            Thread t = new Thread(this::work, "kiln-job-" + i);
            t.setDaemon(true);
            workers.add(t);
            t.start();
        }
        long period = options.heartbeat().toMillis();
        ticker.scheduleWithFixedDelay(this::tick, period, period, TimeUnit.MILLISECONDS);
    }

    /**
     * Accepts a job into the queue.
     *
     * @throws OverloadedException when the queue is full
     */
    public Job submit(Job job) {
        if (closing) {
            throw new StageUnavailableException("gateway", "the gateway is shutting down; submit the job again shortly");
        }
        store.add(job, options.maxQueued());
        publish(JobEvent.of(job));
        wake.release();
        return job;
    }

    /**
     * Cancels a job: a queued one at once, a running one at its next denoising step.
     *
     * @return the job after the request, or empty when there is none with this id
     */
    public Optional<Job> cancel(String id) {
        Optional<Job> after = store.requestCancel(id);
        Running r = running.get(id);
        if (r != null) {
            r.cancelByClient();
        }
        after.filter(j -> j.status() == JobStatus.CANCELLED && r == null).ifPresent(j -> publish(JobEvent.of(j)));
        return after;
    }

    /** Live progress of a job this runner is running ({step, total}), or null. */
    public int[] progress(String id) {
        Running r = running.get(id);
        return r == null ? null : new int[] {r.step, r.total};
    }

    /** Jobs running in this gateway now. */
    public int runningCount() {
        return running.size();
    }

    private void work() {
        while (!closing) {
            Optional<Job> next;
            try {
                next = work.ready() ? store.claim(options.instance()) : Optional.empty();
            } catch (RuntimeException e) {
                LOG.warn("cannot claim a job: {}", e.toString());
                next = Optional.empty();
            }
            if (next.isEmpty()) {
                try {
                    wake.tryAcquire(options.heartbeat().toMillis(), TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    return;
                }
                continue;
            }
            run(next.get());
        }
    }

    private void run(Job job) {
        Running r = new Running(job);
        running.put(job.id(), r);
        try {
            if (job.cancelRequested()) {
                r.byClient = true;
                throw new CancellationException("cancelled before it started");
            }
            publish(JobEvent.of(job));
            Output out = work.run(job, r::onStep, r.cancel::get);
            store.succeed(job.id(), out.result(), out.pngs());
        } catch (CancellationException e) {
            if (r.byClient) {
                store.cancelled(job.id());
            } else if (closing) {
                store.requeue(job.id(), false);
            } else if (job.attempts() < options.maxAttempts()) {
                // a stage stopped it (a denoiser shutting down, say): another one may finish it
                store.requeue(job.id(), true);
                pause();
            } else {
                store.fail(job.id(), work.describe(new StageUnavailableException("denoiser", "the job was stopped "
                        + job.attempts() + " times by a stage shutting down: " + e.getMessage())));
            }
        } catch (OverloadedException e) {
            store.requeue(job.id(), false);
            pause();
        } catch (StageUnavailableException e) {
            if (job.attempts() < options.maxAttempts()) {
                store.requeue(job.id(), true);
                pause();
            } else {
                store.fail(job.id(), work.describe(e));
            }
        } catch (RuntimeException | Error e) {
            // an Error (a native library that failed to load, say) fails the job too, rather than the worker
            RuntimeException failure = e instanceof RuntimeException re ? re : new IllegalStateException(e.toString(), e);
            LOG.debug("job {} failed", job.id(), e);
            try {
                store.fail(job.id(), work.describe(failure));
            } catch (RuntimeException storeDown) {
                LOG.error("cannot record the failure of job {}", job.id(), storeDown);
            }
        } finally {
            running.remove(job.id());
            store.get(job.id()).ifPresent(j -> {
                if (j.status() != JobStatus.RUNNING) {
                    publish(JobEvent.of(j));
                }
            });
            if (!closing) {
                wake.release();
            }
        }
    }

    private void pause() {
        try {
            Thread.sleep(options.retryDelay().toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void publish(JobEvent e) {
        try {
            publisher.execute(() -> events.publish(e));
        } catch (java.util.concurrent.RejectedExecutionException closed) {
            // shutting down: nobody is left to tell
        }
    }

    private void tick() {
        try {
            Map<String, int[]> progress = new HashMap<>();
            running.forEach((id, r) -> progress.put(id, new int[] {r.step, r.total}));
            store.heartbeat(options.instance(), progress);
            for (String id : store.cancelRequested(options.instance())) {
                Running r = running.get(id);
                if (r != null) {
                    r.cancelByClient();
                }
            }
            if (++ticks % Math.max(1, options.lease().toMillis() / options.heartbeat().toMillis() / 2) == 0) {
                int[] r = store.recover(null, options.lease(), options.maxAttempts());
                if (r[0] > 0) {
                    wake.release(r[0]);
                }
                int purged = store.purgeFinished(clock.instant().minus(options.retention()));
                if (purged > 0) {
                    LOG.info("forgot {} jobs finished more than {} ago", purged, options.retention());
                }
            }
        } catch (RuntimeException e) {
            LOG.warn("job heartbeat failed: {}", e.toString());
        }
    }

    /**
     * Stops taking jobs; jobs still running are stopped at their next step and put back in the queue, so
     * a store that outlives this process (PostgreSQL) runs them again after a restart.
     */
    @Override
    public void close() {
        closing = true;
        running.values().forEach(r -> r.cancel.set(true));
        wake.release(workers.size());
        for (Thread t : workers) {
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        ticker.shutdownNow();
        publisher.shutdown();
        try {
            publisher.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }
}
