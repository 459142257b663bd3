package dev.kiln.cli;

import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Which model package a command runs on, and how ONNX Runtime runs it: options shared by the commands. */
final class ModelOptions {
    @Option(names = {"-m", "--model"}, description = "Model id among the shipped packages, or a package folder.")
    String model;

    @Option(names = "--models-dir", description = "Folder of model packages (default: the checkout's models/).")
    Path modelsDir;

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime intra-op threads; 0 lets it choose.")
    int threads;

    /** The model id a request names: a package folder's name, the id given, or null for the default. */
    String modelId() {
        return model != null && Files.isDirectory(Path.of(model))
                ? Path.of(model).toAbsolutePath().normalize().getFileName().toString() : model;
    }

    ModelCatalog catalog() {
        OnnxRuntimeOptions options = OnnxRuntimeOptions.cpu().withThreads(threads);
        if (model != null && Files.isDirectory(Path.of(model))) {
            return ModelCatalog.of(Path.of(model), options);
        }
        return ModelCatalog.shipped(modelsDir(), model, options);
    }

    Path modelsDir() {
        if (modelsDir != null) {
            return modelsDir;
        }
        String prop = System.getProperty("kiln.models.dir", System.getenv("KILN_MODELS_DIR"));
        return Path.of(prop != null ? prop : "models");
    }
}
