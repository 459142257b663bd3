package dev.kiln.service;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/**
 * {@code /q/health/ready}: UP with the model ids once the stage's models are loaded, DOWN with the reason
 * until then. Liveness is left alone: a pod still loading is not broken, restarting it would not help.
 */
@Readiness
@ApplicationScoped
public class ModelReadinessCheck implements HealthCheck {

    private final StageState state;

    ModelReadinessCheck(StageState state) {
        this.state = state;
    }

    @Override
    public HealthCheckResponse call() {
        String problem = state.problem();
        HealthCheckResponseBuilder response = HealthCheckResponse.named(state.stage() + " model")
                .status(problem == null).withData("stage", state.stage());
        if (problem != null) {
            return response.withData("reason", problem).build();
        }
        return response.withData("models", String.join(",", state.catalog().ids()))
                .withData("default_model", state.catalog().defaultId()).build();
    }
}
