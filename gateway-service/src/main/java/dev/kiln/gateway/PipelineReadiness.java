package dev.kiln.gateway;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
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
            return HealthCheckResponse.named("pipeline").up().withData("mode", stages.mode())
                    .withData("default_model", stages.pipeline().catalog().defaultId()).build();
        }
        return HealthCheckResponse.named("pipeline").down().withData("mode", stages.mode())
                .withData("reason", problem).build();
    }
}
