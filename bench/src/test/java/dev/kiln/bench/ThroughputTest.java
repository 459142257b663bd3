package dev.kiln.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

class ThroughputTest {
    @Test
    void aChildsSampleLineReadsBackAsTheSameSample() {
        Throughput.Sample sample = new Throughput.Sample("iteration-level (gRPC, steps)", 16,
                new Throughput.Cell(31.144764517199583, 466.884239, 670.185205, 11.03448275862069, 7.24068575862069,
                        0.8174717667453972, 32.083333333333336, 1.0625, 48));

        assertEquals(sample, Throughput.Sample.parse(sample.line()));
    }

    @Test
    void theChildsOtherOutputIsNoSample() {
        assertNull(Throughput.Sample.parse("[main] INFO ai.djl.util.Platform - Found matching platform"));
        assertNull(Throughput.Sample.parse(""));
    }
}
