package dev.kiln.service;

import io.grpc.Status;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.Uni;
import io.smallrye.mutiny.helpers.test.AssertSubscriber;
import io.smallrye.mutiny.helpers.test.UniAssertSubscriber;
import io.smallrye.mutiny.subscription.Cancellable;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class StageQueueTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final StageQueue queue = new StageQueue(registry, "denoiser");

    @Test
    void gaugeExistsAtZeroBeforeAnyRequest() {
        assertEquals(0.0, registry.get(StageQueue.DEPTH_METRIC).tag("stage", "denoiser").gauge().value());
    }

    @Test
    void requestCountsWhileInFlightAndIsTimedWithItsOutcome() {
        CompletableFuture<String> pending = new CompletableFuture<>();
        Uni<String> call = queue.track(() -> Uni.createFrom().completionStage(pending));
        assertEquals(0, queue.depth(), "nothing is held before the server subscribes");

        UniAssertSubscriber<String> subscriber = call.subscribe().withSubscriber(UniAssertSubscriber.create());
        assertEquals(1.0, registry.get(StageQueue.DEPTH_METRIC).gauge().value());

        pending.complete("latents");
        subscriber.assertItem("latents");
        assertEquals(0, queue.depth());
        assertEquals(1, registry.get(StageQueue.REQUEST_METRIC).tags("stage", "denoiser", "outcome", "ok").timer().count());
    }

    @Test
    void failuresLeaveTheQueueLabelledByStatusCode() {
        queue.track(() -> Uni.createFrom().failure(Status.UNAVAILABLE.withDescription("model not loaded").asRuntimeException()))
                .subscribe().withSubscriber(UniAssertSubscriber.create()).assertFailedWith(io.grpc.StatusRuntimeException.class);
        queue.track(() -> {
                    throw new IllegalStateException("thrown before a Uni existed");
                })
                .subscribe().withSubscriber(UniAssertSubscriber.create()).assertFailedWith(IllegalStateException.class);

        assertEquals(0, queue.depth());
        assertEquals(1, registry.get(StageQueue.REQUEST_METRIC).tags("outcome", "unavailable").timer().count());
        assertEquals(1, registry.get(StageQueue.REQUEST_METRIC).tags("outcome", "error").timer().count());
    }

    @Test
    void cancelledCallLeavesTheQueue() {
        Cancellable subscription = queue.track(() -> Uni.createFrom().<String>nothing()).subscribe().with(item -> { });
        assertEquals(1, queue.depth());
        subscription.cancel();
        assertEquals(0, queue.depth());
        assertEquals(1, registry.get(StageQueue.REQUEST_METRIC).tags("outcome", "cancelled").timer().count());
    }

    @Test
    void streamCountsUntilItsLastEvent() {
        Multi<Integer> steps = queue.trackStream(() -> Multi.createFrom().range(1, 4));
        AssertSubscriber<Integer> subscriber = steps.subscribe().withSubscriber(AssertSubscriber.create(1));
        assertEquals(1, queue.depth(), "one request however many events it sends");
        subscriber.request(10).awaitCompletion(Duration.ofSeconds(5)).assertItems(1, 2, 3);
        assertEquals(0, queue.depth());

        AssertSubscriber<Integer> cancelled = queue.trackStream(() -> Multi.createFrom().range(1, 4))
                .subscribe().withSubscriber(AssertSubscriber.create(1));
        cancelled.cancel();
        assertEquals(0, queue.depth());
        assertEquals(1, registry.get(StageQueue.REQUEST_METRIC).tags("outcome", "cancelled").timer().count());
    }

    @Test
    void ticketCountsOutOnce() {
        StageQueue.Ticket ticket = queue.enter();
        ticket.finish("ok");
        ticket.finish("ok");
        assertEquals(0, queue.depth());
        assertThrows(io.micrometer.core.instrument.search.MeterNotFoundException.class,
                () -> registry.get(StageQueue.REQUEST_METRIC).tags("outcome", "error").timer());
    }
}
