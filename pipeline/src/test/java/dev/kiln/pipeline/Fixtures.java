package dev.kiln.pipeline;

import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** The fixture model packages built by models/recipes/fixtures.py, found through the build's kiln.models.dir. */
public final class Fixtures {
    public static final String DIFFUSERS = "sd15-tiny-diffusers";
    public static final String OPTIMUM = "sd15-tiny-optimum";
    public static final String KILN = "sd15-tiny-kiln";
    public static final List<String> ALL = List.of(DIFFUSERS, OPTIMUM, KILN);

    private Fixtures() {
    }

    public static Path modelsDir() {
        String dir = System.getProperty("kiln.models.dir");
        Path p = dir != null ? Path.of(dir) : Path.of("../models");
        if (!Files.isDirectory(p.resolve("fixtures"))) {
            throw new IllegalStateException("fixture models not found under " + p.toAbsolutePath()
                    + "; run the tests through Maven, which sets kiln.models.dir");
        }
        return p;
    }

    /** The trained emoji-tiny package, when this checkout has it (it lands with issue 3's weights). */
    public static java.util.Optional<Path> emojiTiny() {
        Path p = modelsDir().resolve("emoji-tiny");
        return Files.isRegularFile(p.resolve("model_index.json")) ? java.util.Optional.of(p) : java.util.Optional.empty();
    }

    public static Path dir(String id) {
        return modelsDir().resolve("fixtures").resolve(id);
    }

    /** All three fixtures, sd15-tiny-kiln the default. */
    public static ModelCatalog catalog(OnnxRuntimeOptions options) {
        return ModelCatalog.scan(List.of(modelsDir().resolve("fixtures")), KILN, options);
    }

    /** A copy of a fixture package in {@code target}, to break on purpose. */
    public static Path copy(String id, Path target) {
        Path src = dir(id);
        try (Stream<Path> files = Files.walk(src)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Path to = target.resolve(src.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(f, to);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return target;
    }
}
