package dev.kiln.service;

import dev.kiln.protocol.server.StageMonitor;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.Startup;
import jakarta.inject.Singleton;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Counts the calls this stage holds, waiting or in flight, times them, and counts the ones it turned away.
 *
 * <p>The count is the {@code kiln_stage_queue_depth{stage}} gauge that KEDA divides by the replica count to
 * scale the stage, so it counts every call from the moment the server hands it over until it completes,
 * fails or is cancelled. Each call ends in {@code kiln_stage_request_seconds{stage,outcome}}; calls refused
 * without work ({@code queue_full}, {@code invalid_request}, {@code not_found}, {@code not_ready}) also count
 * in {@code kiln_requests_rejected_total{stage,reason}}. The bean is created at startup so that the gauge and
 * the queue-full counter are exported (as 0) before the first call: a missing series reads as "no data" to an
 * autoscaler or an alert, not as an idle stage.
 */
@Startup
@Singleton
public class StageQueue implements StageMonitor {

    /** Micrometer name of the gauge; Prometheus exports it as {@code kiln_stage_queue_depth}. */
    public static final String DEPTH_METRIC = "kiln.stage.queue.depth";
    /** Micrometer name of the timer; Prometheus exports it as {@code kiln_stage_request_seconds}. */
    public static final String REQUEST_METRIC = "kiln.stage.request";
    /** Micrometer name of the counter; Prometheus exports it as {@code kiln_requests_rejected_total}. */
    public static final String REJECTED_METRIC = "kiln.requests.rejected";

    /** Outcomes (gRPC status codes) that mean the call was refused, and the reason label for each. */
    static final Map<String, String> REJECTIONS = Map.of(
            "resource_exhausted", "queue_full",
            "invalid_argument", "invalid_request",
            "not_found", "not_found",
            "unavailable", "not_ready");

    private final MeterRegistry registry;
    private final String stage;
    private final AtomicInteger depth = new AtomicInteger();

    public StageQueue(MeterRegistry registry, @ConfigProperty(name = "kiln.stage.name") String stage) {
        this.registry = registry;
        this.stage = stage;
        // Micrometer holds gauge targets weakly; this bean lives as long as the application, and so does depth.
        Gauge.builder(DEPTH_METRIC, depth, AtomicInteger::get)
                .description("Requests waiting or in flight in this stage")
                .tag("stage", stage)
                .register(registry);
        rejected("queue_full");
    }

    /** Calls currently held. */
    public int depth() {
        return depth.get();
    }

    @Override
    public Call start() {
        depth.incrementAndGet();
        long start = System.nanoTime();
        AtomicBoolean ended = new AtomicBoolean();
        return outcome -> {
            if (!ended.compareAndSet(false, true)) {
                return;
            }
            depth.decrementAndGet();
            Timer.builder(REQUEST_METRIC)
                    .description("Time from a request entering the stage to its last response")
                    .tag("stage", stage)
                    .tag("outcome", outcome)
                    .publishPercentileHistogram()
                    .register(registry)
                    .record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
            String reason = REJECTIONS.get(outcome);
            if (reason != null) {
                rejected(reason).increment();
            }
        };
    }

    private Counter rejected(String reason) {
        return Counter.builder(REJECTED_METRIC)
                .description("Requests the stage refused without working on them")
                .tag("stage", stage)
                .tag("reason", reason)
                .register(registry);
    }
}
