package dev.kiln.gateway;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import dev.kiln.protocol.client.StageChannel;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/** Ready only once the default model's sessions are open. */
@Readiness
@ApplicationScoped
public class PipelineReadiness implements HealthCheck {
    @Inject
    StageWiring stages;

    @Override
    public HealthCheckResponse call() {
        String problem = stages.problem();
        if (problem == null) {
            // stage connectivity is reported, not judged: a stage that is down makes requests fail fast with
            // 503, and taking the gateway out of service would not bring it back
            HealthCheckResponseBuilder up = HealthCheckResponse.named("pipeline").up().withData("mode", stages.mode())
                    .withData("default_model", stages.pipeline().catalog().defaultId());
            for (StageChannel c : stages.channels()) {
                up.withData(c.stage(), c.address() + " " + c.state());
            }
            return up.build();
        }
        return HealthCheckResponse.named("pipeline").down().withData("mode", stages.mode())
                .withData("reason", problem).build();
    }
}
