package dev.kiln.service;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.runtime.Startup;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.util.Optional;

/**
 * The stage this process runs and the model it serves.
 *
 * <p>Created at startup so that a missing model shows in the log when the pod starts, not at the first
 * request. Readiness and every gRPC call read the same status, so a pod never reports ready while its
 * calls would fail for want of a model.
 */
@Startup
@Singleton
public class StageState {

    private static final Logger LOG = Logger.getLogger(StageState.class);

    private final String stage;
    private volatile ModelStatus model;

    StageState(@ConfigProperty(name = "kiln.stage.name") String stage,
               @ConfigProperty(name = ModelStatus.MODEL_DIR_PROPERTY) Optional<String> modelDir) {
        this.stage = stage;
        this.model = ModelStatus.inspect(modelDir);
        if (model.available()) {
            LOG.infof("%s stage: %s", stage, model.detail());
        } else {
            LOG.warnf("%s stage: %s; readiness stays DOWN", stage, model.detail());
        }
    }

    /** The stage name used in metric labels and messages: encoder, denoiser, decoder, training. */
    public String stage() {
        return stage;
    }

    public ModelStatus model() {
        return model;
    }

    /** Replaces the model status, for whatever loads or unloads the model after startup. */
    public void model(ModelStatus status) {
        this.model = status;
    }

    /**
     * The model for a request that names {@code requestedModelId} (empty: whichever this stage serves).
     *
     * @throws StatusRuntimeException UNAVAILABLE without a model, so callers retry another replica;
     *                                NOT_FOUND when the request names a model this stage does not serve
     */
    public ModelStatus requireModel(String requestedModelId) {
        ModelStatus current = model;
        if (!current.available()) {
            throw Status.UNAVAILABLE.withDescription(current.detail()).asRuntimeException();
        }
        if (requestedModelId != null && !requestedModelId.isEmpty() && !requestedModelId.equals(current.modelId())) {
            throw Status.NOT_FOUND
                    .withDescription("model '" + requestedModelId + "' is not served by this " + stage
                            + "; it serves '" + current.modelId() + "'")
                    .asRuntimeException();
        }
        return current;
    }
}
