package dev.kiln.service;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.protocol.server.StageMonitor;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

class StageQueueTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final StageQueue queue = new StageQueue(registry, "denoiser");

    @Test
    void gaugeAndQueueFullCounterExistAtZeroBeforeAnyRequest() {
        assertEquals(0.0, registry.get(StageQueue.DEPTH_METRIC).tag("stage", "denoiser").gauge().value());
        assertEquals(0.0, registry.get(StageQueue.REJECTED_METRIC).tags("stage", "denoiser", "reason", "queue_full")
                .counter().count());
    }

    @Test
    void aCallCountsWhileHeldAndIsTimedWithItsOutcomeOnce() {
        StageMonitor.Call call = queue.start();
        assertEquals(1.0, registry.get(StageQueue.DEPTH_METRIC).gauge().value());
        call.end("ok");
        call.end("cancelled");
        assertEquals(0, queue.depth());
        assertEquals(1, registry.get(StageQueue.REQUEST_METRIC).tags("stage", "denoiser", "outcome", "ok").timer().count());
        assertEquals(0, registry.find(StageQueue.REQUEST_METRIC).tags("outcome", "cancelled").timers().size());
    }

    @Test
    void refusedCallsCountAsRejectedByReason() {
        queue.start().end("resource_exhausted");
        queue.start().end("resource_exhausted");
        queue.start().end("invalid_argument");
        queue.start().end("deadline_exceeded");
        assertEquals(2.0, registry.get(StageQueue.REJECTED_METRIC).tags("reason", "queue_full").counter().count());
        assertEquals(1.0, registry.get(StageQueue.REJECTED_METRIC).tags("reason", "invalid_request").counter().count());
        assertEquals(2, registry.find(StageQueue.REJECTED_METRIC).counters().size(), "a deadline is not a refusal");
        assertEquals(1, registry.get(StageQueue.REQUEST_METRIC).tags("outcome", "deadline_exceeded").timer().count());
        assertEquals(0, queue.depth());
    }
}
