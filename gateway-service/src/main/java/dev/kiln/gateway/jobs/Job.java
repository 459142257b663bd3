package dev.kiln.gateway.jobs;

import java.time.Instant;

/**
 * A job as stored: its request (the JSON body it was submitted with, its seed fixed at submission so a
 * re-run after a restart draws the same pictures) and its state.
 *
 * @param request     the request body as JSON
 * @param model       the model id the request resolved to
 * @param step        denoising steps done (of {@code totalSteps})
 * @param attempts    how many times a runner has started it
 * @param owner       the gateway instance running it, while running
 * @param result      set once succeeded
 * @param error       set once failed
 */
public record Job(String id, JobStatus status, String request, String model, int step, int totalSteps,
                  Instant createdAt, Instant startedAt, Instant finishedAt, int attempts, String owner,
                  boolean cancelRequested, JobResult result, JobError error) {

    public static Job queued(String id, String request, String model, int totalSteps, Instant now) {
        return new Job(id, JobStatus.QUEUED, request, model, 0, totalSteps, now, null, null, 0, null, false, null, null);
    }

    Job claimedBy(String runner, Instant now) {
        return new Job(id, JobStatus.RUNNING, request, model, 0, totalSteps, createdAt, now, null, attempts + 1, runner,
                cancelRequested, null, null);
    }

    Job withProgress(int done, int total) {
        return new Job(id, status, request, model, done, total, createdAt, startedAt, finishedAt, attempts, owner,
                cancelRequested, result, error);
    }

    Job requeued(boolean countAttempt) {
        return new Job(id, JobStatus.QUEUED, request, model, 0, totalSteps, createdAt, null, null,
                countAttempt ? attempts : attempts - 1, null, cancelRequested, null, null);
    }

    Job withCancelRequested() {
        return new Job(id, status, request, model, step, totalSteps, createdAt, startedAt, finishedAt, attempts, owner,
                true, result, error);
    }

    Job finished(JobStatus how, JobResult res, JobError err, Instant now) {
        return new Job(id, how, request, model, how == JobStatus.SUCCEEDED ? totalSteps : step, totalSteps, createdAt,
                startedAt, now, attempts, null, cancelRequested, res, err);
    }
}
