package dev.kiln.pipeline.error;

import java.util.Collection;

/** No model with the requested id is served here. */
public class ModelNotFoundException extends RuntimeException {
    private final String model;

    public ModelNotFoundException(String model, Collection<String> available) {
        super("model '" + model + "' does not exist; available: " + String.join(", ", available));
        this.model = model;
    }

    public String model() {
        return model;
    }
}
