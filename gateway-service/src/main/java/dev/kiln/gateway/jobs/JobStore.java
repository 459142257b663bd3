package dev.kiln.gateway.jobs;

import dev.kiln.pipeline.error.OverloadedException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Where jobs live. Every transition is one atomic step, so several runners (threads, or gateway
 * replicas sharing a database) can claim and finish jobs without two of them running the same one.
 */
public interface JobStore extends AutoCloseable {

    /**
     * Accepts a new queued job.
     *
     * @throws dev.kiln.pipeline.error.OverloadedException when {@code maxQueued} jobs are already waiting
     */
    void add(Job job, int maxQueued);

    Optional<Job> get(String id);

    /**
     * Jobs newest first (by creation, then id), at most {@code limit} of them.
     *
     * @param status only jobs in this state, or null for all
     * @param before only jobs older than this job (a cursor: the last id of the previous page), or null from the newest
     */
    List<Job> list(JobStatus status, int limit, String before);

    /** The oldest queued job, now running under {@code owner}; empty when none waits. */
    Optional<Job> claim(String owner);

    /** Records progress of running jobs owned by {@code owner} (id to {step, total}) and that the owner is alive. */
    void heartbeat(String owner, Map<String, int[]> progress);

    /** Running jobs of {@code owner} that someone asked to cancel (possibly through another gateway). */
    Set<String> cancelRequested(String owner);

    /** The job succeeded with these pictures (PNG files, in order). */
    void succeed(String id, JobResult result, List<byte[]> pngs);

    void fail(String id, JobError error);

    /** A running job stopped because it was cancelled. */
    void cancelled(String id);

    /**
     * Puts a running job back in the queue (its stage was busy or briefly unavailable).
     *
     * @param countAttempt false when the job never really started, so it keeps its attempts
     */
    void requeue(String id, boolean countAttempt);

    /**
     * Asks to cancel a job: a queued one is cancelled at once, a running one is marked so its runner
     * stops it at the next step.
     *
     * @return the job after the request, or empty when there is no such job
     */
    Optional<Job> requestCancel(String id);

    /**
     * Start-up recovery: running jobs whose runner is gone (owned by {@code owner}, i.e. this gateway
     * before a restart, or silent for longer than {@code lease}) go back to the queue, or fail with the
     * reason when they were already started {@code maxAttempts} times.
     *
     * @return how many jobs were re-queued and how many failed: {requeued, failed}
     */
    int[] recover(String owner, Duration lease, int maxAttempts);

    /** Forgets finished jobs (and their pictures) that finished before {@code before}; returns how many. */
    int purgeFinished(Instant before);

    /** Picture {@code index} of a succeeded job, or null. */
    byte[] image(String id, int index);

    /** Jobs waiting to run. */
    int queued();

    @Override
    default void close() {
    }

    /** The answer to a submission when the queue is full: retry shortly, as OpenAI's 429 says. */
    static OverloadedException queueFull(int maxQueued) {
        return new OverloadedException("the job queue is full (" + maxQueued + " jobs waiting); retry in a few seconds", 2);
    }
}
