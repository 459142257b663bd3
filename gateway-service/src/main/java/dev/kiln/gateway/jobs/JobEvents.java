package dev.kiln.gateway.jobs;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * In-process fan-out of job events to their subscribers (event streams of clients). Listeners are called
 * on the publishing thread and must not block.
 */
public final class JobEvents {
    private static final Logger LOG = LoggerFactory.getLogger(JobEvents.class);

    private final Map<String, List<Subscription>> subscribers = new ConcurrentHashMap<>();

    /** A subscriber's registration; closing it stops delivery. */
    public final class Subscription implements AutoCloseable {
        private final String jobId;
        private final boolean previews;
        private final Consumer<JobEvent> listener;

        private Subscription(String jobId, boolean previews, Consumer<JobEvent> listener) {
            this.jobId = jobId;
            this.previews = previews;
            this.listener = listener;
        }

        @Override
        public void close() {
            subscribers.computeIfPresent(jobId, (id, subs) -> {
                subs.remove(this);
                return subs.isEmpty() ? null : subs;
            });
        }
    }

    /** @param previews whether this subscriber wants preview pictures (they cost a decoder call each) */
    public Subscription subscribe(String jobId, boolean previews, Consumer<JobEvent> listener) {
        Subscription s = new Subscription(jobId, previews, listener);
        subscribers.computeIfAbsent(jobId, id -> new CopyOnWriteArrayList<>()).add(s);
        return s;
    }

    /** Whether anyone listening to this job wants previews; nobody asking means none are rendered. */
    public boolean wantsPreview(String jobId) {
        List<Subscription> subs = subscribers.get(jobId);
        return subs != null && subs.stream().anyMatch(s -> s.previews);
    }

    public void publish(JobEvent event) {
        List<Subscription> subs = subscribers.get(event.jobId());
        if (subs == null) {
            return;
        }
        for (Subscription s : subs) {
            try {
                s.listener.accept(event);
            } catch (RuntimeException e) {
                LOG.warn("job event listener failed: {}", e.toString());
            }
        }
    }
}
