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
    EmbeddedPipeline pipeline;

    @Override
    public HealthCheckResponse call() {
        String problem = pipeline.problem();
        if (problem == null) {
            return HealthCheckResponse.named("pipeline").up()
                    .withData("default_model", pipeline.get().catalog().defaultId()).build();
        }
        return HealthCheckResponse.named("pipeline").down().withData("reason", problem).build();
    }
}
