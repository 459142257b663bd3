package dev.kiln.encoder;

import io.quarkus.test.junit.QuarkusTestProfile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Points {@code kiln.model.dir} at a folder holding a diffusers {@code model_index.json}, which is all the
 * readiness check looks at; no weights are needed for what the tests with it check.
 */
public class ModelPackageFixture implements QuarkusTestProfile {

    static final String MODEL_ID = "tiny-sd-fixture";

    @Override
    public Map<String, String> getConfigOverrides() {
        try {
            Path dir = Files.createDirectories(Path.of("target", "model-fixtures", MODEL_ID));
            Files.writeString(dir.resolve("model_index.json"), """
                    {"_class_name": "OnnxStableDiffusionPipeline", "_diffusers_version": "0.30.0"}
                    """);
            return Map.of("kiln.model.dir", dir.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
