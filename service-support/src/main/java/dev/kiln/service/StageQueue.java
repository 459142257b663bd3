package dev.kiln.service;

import io.grpc.Status;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.runtime.Startup;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Counts the requests this stage holds, waiting or in flight, and times them.
 *
 * <p>The count is the {@code kiln_stage_queue_depth{stage=...}} gauge that KEDA divides by the replica
 * count to scale the stage, so it counts every request from the moment the server hands it over until
 * it completes, fails or is cancelled, whatever the outcome. The bean is created at startup so that
 * the gauge is exported (as 0) before the first request: a missing series would read as "no data" to
 * the autoscaler, not as an idle stage.
 */
@Startup
@Singleton
public class StageQueue {

    /** Micrometer name of the gauge; Prometheus exports it as {@code kiln_stage_queue_depth}. */
    public static final String DEPTH_METRIC = "kiln.stage.queue.depth";
    /** Micrometer name of the timer; Prometheus exports it as {@code kiln_stage_request_seconds}. */
    public static final String REQUEST_METRIC = "kiln.stage.request";

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
    }

    /** Requests currently held. */
    public int depth() {
        return depth.get();
    }

    /** Counts one request in; the ticket counts it out exactly once, whatever happens after. */
    public Ticket enter() {
        depth.incrementAndGet();
        return new Ticket(System.nanoTime());
    }

    /** Runs a unary call as one request: counted while subscribed, timed with its outcome. */
    public <T> Uni<T> track(Supplier<Uni<T>> call) {
        return Uni.createFrom().deferred(() -> {
            Ticket ticket = enter();
            Uni<T> work;
            try {
                work = call.get();
            } catch (RuntimeException e) {
                ticket.finish(outcomeOf(e));
                return Uni.createFrom().failure(e);
            }
            return work
                    .onItemOrFailure().invoke((item, failure) -> ticket.finish(failure == null ? "ok" : outcomeOf(failure)))
                    .onCancellation().invoke(() -> ticket.finish("cancelled"));
        });
    }

    /** Runs a server-streaming call as one request, counted until its stream ends. */
    public <T> Multi<T> trackStream(Supplier<Multi<T>> call) {
        return Multi.createFrom().deferred(() -> {
            Ticket ticket = enter();
            Multi<T> work;
            try {
                work = call.get();
            } catch (RuntimeException e) {
                ticket.finish(outcomeOf(e));
                return Multi.createFrom().failure(e);
            }
            return work.onTermination().invoke((failure, cancelled) ->
                    ticket.finish(cancelled ? "cancelled" : failure == null ? "ok" : outcomeOf(failure)));
        });
    }

    /**
     * The outcome label for a failure: the gRPC status code in lower case (unavailable, not_found,
     * invalid_argument, ...) so dashboards split errors the way the gateway maps them to HTTP; "error"
     * for anything that carries no status.
     */
    static String outcomeOf(Throwable failure) {
        Status status = Status.fromThrowable(failure);
        return status.getCode() == Status.Code.UNKNOWN ? "error" : status.getCode().name().toLowerCase(Locale.ROOT);
    }

    /** One request held by the stage. */
    public final class Ticket {
        private final long startNanos;
        private final AtomicBoolean finished = new AtomicBoolean();

        private Ticket(long startNanos) {
            this.startNanos = startNanos;
        }

        /** Counts the request out and records its duration; later calls do nothing. */
        public void finish(String outcome) {
            if (!finished.compareAndSet(false, true)) {
                return;
            }
            depth.decrementAndGet();
            Timer.builder(REQUEST_METRIC)
                    .description("Time from a request entering the stage to its last response")
                    .tag("stage", stage)
                    .tag("outcome", outcome)
                    .publishPercentileHistogram()
                    .register(registry)
                    .record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
        }
    }
}
