package dev.kiln.service;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Whether this stage has a model package to serve, and if not, why not in words an operator can act on.
 *
 * <p>The check is the one a model package on disk can answer before any session is opened: the
 * configured folder exists and holds the diffusers {@code model_index.json}. The model id is the folder
 * name, as {@code ModelPackage.load(Path, ...)} in kiln-pipeline names it.
 *
 * @param available whether a model package was found
 * @param modelId   the folder name of the package; empty when none
 * @param dir       the configured folder; null when none was configured
 * @param detail    for a missing model, the reason starting with {@code "model not loaded: "}
 */
public record ModelStatus(boolean available, String modelId, Path dir, String detail) {

    /** Configuration property naming the model package folder. */
    public static final String MODEL_DIR_PROPERTY = "kiln.model.dir";

    /** A model package found in {@code dir}. */
    public static ModelStatus found(String modelId, Path dir) {
        return new ModelStatus(true, modelId, dir, "model " + modelId + " in " + dir);
    }

    /** No model; {@code reason} follows {@code "model not loaded: "}. */
    public static ModelStatus missing(Path dir, String reason) {
        return new ModelStatus(false, "", dir, "model not loaded: " + reason);
    }

    /** Looks at the configured folder, if any. */
    public static ModelStatus inspect(Optional<String> configuredDir) {
        if (configuredDir.isEmpty() || configuredDir.get().isBlank()) {
            return missing(null, MODEL_DIR_PROPERTY + " is not set");
        }
        Path dir = Path.of(configuredDir.get()).toAbsolutePath().normalize();
        if (!Files.isDirectory(dir)) {
            return missing(dir, dir + " (no such directory)");
        }
        if (!Files.isRegularFile(dir.resolve("model_index.json"))) {
            return missing(dir, dir + " (no model_index.json in it)");
        }
        return found(dir.getFileName().toString(), dir);
    }
}
