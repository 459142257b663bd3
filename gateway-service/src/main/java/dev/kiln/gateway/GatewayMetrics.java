package dev.kiln.gateway;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * The stage queue depth of embedded mode's in-process denoiser, under DESIGN.md's metric name. In
 * distributed mode the denoiser service exports its own.
 */
@ApplicationScoped
public class GatewayMetrics {
    void register(@Observes StartupEvent e, MeterRegistry registry, StageWiring stages) {
        if (!stages.mode().equals(StageWiring.EMBEDDED)) {
            return;
        }
        Gauge.builder("kiln.stage.queue.depth", stages,
                        s -> s.problem() == null ? s.pipeline().denoiser().queueDepth() : 0)
                .tag("stage", "denoiser").description("requests waiting or in flight").register(registry);
    }
}
