package dev.kiln.service;

import jakarta.enterprise.context.ApplicationScoped;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/**
 * {@code /q/health/ready}: UP with the model id when the stage has its model, DOWN with the reason
 * otherwise. Liveness is left alone: a pod without a model is not broken, restarting it would not help.
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
        ModelStatus model = state.model();
        HealthCheckResponseBuilder response = HealthCheckResponse.named(state.stage() + " model")
                .status(model.available())
                .withData("stage", state.stage());
        if (model.dir() != null) {
            response.withData("dir", model.dir().toString());
        }
        return model.available()
                ? response.withData("model", model.modelId()).build()
                : response.withData("reason", model.detail()).build();
    }
}
