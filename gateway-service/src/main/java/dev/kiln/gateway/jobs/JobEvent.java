package dev.kiln.gateway.jobs;

/**
 * Something that happened to a job, as its event stream tells it.
 *
 * @param type    {@code queued}, {@code running}, {@code step}, or a final one: {@code done}, {@code failed}, {@code cancelled}
 * @param job     the job after the event (null for {@code step} events, which carry only the counts)
 * @param preview a small PNG of image 0 at this step, when a subscriber asked for previews and one was due
 */
public record JobEvent(String jobId, String type, Job job, int step, int total, byte[] preview) {
    public static final String QUEUED = "queued";
    public static final String RUNNING = "running";
    public static final String STEP = "step";
    public static final String DONE = "done";
    public static final String FAILED = "failed";
    public static final String CANCELLED = "cancelled";

    /** The event that tells a job's current state: what a subscriber arriving late is sent first. */
    public static JobEvent of(Job job) {
        String type = switch (job.status()) {
            case QUEUED -> QUEUED;
            case RUNNING -> RUNNING;
            case SUCCEEDED -> DONE;
            case FAILED -> FAILED;
            case CANCELLED -> CANCELLED;
        };
        return new JobEvent(job.id(), type, job, job.step(), job.totalSteps(), null);
    }

    public static JobEvent step(String jobId, int step, int total, byte[] preview) {
        return new JobEvent(jobId, STEP, null, step, total, preview);
    }

    public boolean isFinal() {
        return type.equals(DONE) || type.equals(FAILED) || type.equals(CANCELLED);
    }
}
