package dev.kiln.gateway.jobs;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Embedded mode's store: jobs in this process's memory, lost with it. Finished jobs are kept up to
 * {@code keepFinished}, the oldest dropped first, so a long-running playground does not grow without bound.
 */
public final class MemoryJobStore implements JobStore {
    private final int keepFinished;
    private final Clock clock;
    private final Map<String, Job> jobs = new HashMap<>();
    private final ArrayDeque<String> queue = new ArrayDeque<>();
    private final LinkedHashMap<String, Boolean> finished = new LinkedHashMap<>();
    private final Map<String, List<byte[]>> images = new HashMap<>();

    public MemoryJobStore(int keepFinished, Clock clock) {
        this.keepFinished = keepFinished;
        this.clock = clock;
    }

    @Override
    public synchronized void add(Job job, int maxQueued) {
        if (queue.size() >= maxQueued) {
            throw JobStore.queueFull(maxQueued);
        }
        jobs.put(job.id(), job);
        queue.addLast(job.id());
    }

    @Override
    public synchronized Optional<Job> get(String id) {
        return Optional.ofNullable(jobs.get(id));
    }

    @Override
    public synchronized List<Job> list(JobStatus status, int limit, String before) {
        Job cursor = before == null ? null : jobs.get(before);
        if (before != null && cursor == null) {
            return List.of(); // nothing is older than a job that is not there, as the PostgreSQL store answers too
        }
        return jobs.values().stream()
                .filter(j -> status == null || j.status() == status)
                .filter(j -> cursor == null || NEWEST_FIRST.compare(j, cursor) > 0)
                .sorted(NEWEST_FIRST)
                .limit(limit)
                .toList();
    }

    private static final Comparator<Job> NEWEST_FIRST =
            Comparator.comparing(Job::createdAt).thenComparing(Job::id).reversed();

    @Override
    public synchronized Optional<Job> claim(String owner) {
        String id = queue.pollFirst();
        if (id == null) {
            return Optional.empty();
        }
        Job j = jobs.get(id).claimedBy(owner, clock.instant());
        jobs.put(id, j);
        return Optional.of(j);
    }

    @Override
    public synchronized void heartbeat(String owner, Map<String, int[]> progress) {
        progress.forEach((id, p) -> {
            Job j = jobs.get(id);
            if (j != null && j.status() == JobStatus.RUNNING) {
                jobs.put(id, j.withProgress(p[0], p[1]));
            }
        });
    }

    @Override
    public synchronized Set<String> cancelRequested(String owner) {
        Set<String> ids = new HashSet<>();
        for (Job j : jobs.values()) {
            if (j.status() == JobStatus.RUNNING && j.cancelRequested() && owner.equals(j.owner())) {
                ids.add(j.id());
            }
        }
        return ids;
    }

    @Override
    public synchronized void succeed(String id, JobResult result, List<byte[]> pngs) {
        if (finish(id, JobStatus.SUCCEEDED, result, null)) {
            images.put(id, List.copyOf(pngs));
        }
    }

    @Override
    public synchronized void fail(String id, JobError error) {
        finish(id, JobStatus.FAILED, null, error);
    }

    @Override
    public synchronized void cancelled(String id) {
        finish(id, JobStatus.CANCELLED, null, null);
    }

    private boolean finish(String id, JobStatus how, JobResult result, JobError error) {
        Job j = jobs.get(id);
        if (j == null || j.status().isFinal()) {
            return false;
        }
        queue.remove(id);
        jobs.put(id, j.finished(how, result, error, clock.instant()));
        finished.put(id, Boolean.TRUE);
        while (finished.size() > keepFinished) {
            String oldest = finished.keySet().iterator().next();
            finished.remove(oldest);
            jobs.remove(oldest);
            images.remove(oldest);
        }
        return true;
    }

    @Override
    public synchronized void requeue(String id, boolean countAttempt) {
        Job j = jobs.get(id);
        if (j != null && j.status() == JobStatus.RUNNING) {
            if (j.cancelRequested()) {
                finish(id, JobStatus.CANCELLED, null, null);
                return;
            }
            jobs.put(id, j.requeued(countAttempt));
            queue.addFirst(id);
        }
    }

    @Override
    public synchronized Optional<Job> requestCancel(String id) {
        Job j = jobs.get(id);
        if (j == null) {
            return Optional.empty();
        }
        if (j.status() == JobStatus.QUEUED) {
            finish(id, JobStatus.CANCELLED, null, null);
        } else if (j.status() == JobStatus.RUNNING) {
            jobs.put(id, j.withCancelRequested());
        }
        return Optional.ofNullable(jobs.get(id));
    }

    @Override
    public int[] recover(String owner, Duration lease, int maxAttempts) {
        // nothing survives the process, so nothing is left over from a previous one
        return new int[] {0, 0};
    }

    @Override
    public synchronized int purgeFinished(Instant before) {
        int n = 0;
        for (java.util.Iterator<String> it = finished.keySet().iterator(); it.hasNext(); ) {
            String id = it.next();
            Job j = jobs.get(id);
            if (j != null && j.finishedAt().isBefore(before)) {
                it.remove();
                jobs.remove(id);
                images.remove(id);
                n++;
            }
        }
        return n;
    }

    @Override
    public synchronized byte[] image(String id, int index) {
        List<byte[]> pngs = images.get(id);
        return pngs == null || index < 0 || index >= pngs.size() ? null : pngs.get(index);
    }

    @Override
    public synchronized int queued() {
        return queue.size();
    }
}
