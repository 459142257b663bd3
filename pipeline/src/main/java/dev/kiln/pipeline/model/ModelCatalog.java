package dev.kiln.pipeline.model;

import dev.kiln.pipeline.error.ModelNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The model packages a process serves, by id. Packages are opened on first use and kept open, so a
 * server pays the session start-up once and a CLI run only for the model it uses.
 */
public final class ModelCatalog implements AutoCloseable {
    private final Map<String, Path> roots;
    private final String defaultId;
    private final OnnxRuntimeOptions options;
    private final Map<String, ModelPackage> open = new LinkedHashMap<>();

    /**
     * @param roots     package folders by id, in the order they are listed
     * @param defaultId the id used when a request names no model
     * @param options   how sessions are opened, or null to describe the packages only ({@link #describingOnly()})
     */
    public ModelCatalog(Map<String, Path> roots, String defaultId, OnnxRuntimeOptions options) {
        if (roots.isEmpty()) {
            throw new IllegalArgumentException("a catalog needs at least one model package");
        }
        if (!roots.containsKey(defaultId)) {
            throw new IllegalArgumentException("default model '" + defaultId + "' is not among " + roots.keySet());
        }
        this.roots = new LinkedHashMap<>(roots);
        this.defaultId = defaultId;
        this.options = options;
    }

    /** A catalog of one package, with its folder name as id. */
    public static ModelCatalog of(Path root, OnnxRuntimeOptions options) {
        String id = root.toAbsolutePath().normalize().getFileName().toString();
        return new ModelCatalog(Map.of(id, root), id, options);
    }

    /**
     * Every package directly under any of {@code dirs} (a folder holding {@code model_index.json});
     * folders that do not exist are skipped.
     *
     * @param defaultId the default, or null for the first in name order
     */
    public static ModelCatalog scan(List<Path> dirs, String defaultId, OnnxRuntimeOptions options) {
        Map<String, Path> found = new LinkedHashMap<>();
        for (Path dir : dirs) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            try (Stream<Path> s = Files.list(dir)) {
                s.filter(p -> Files.isRegularFile(p.resolve("model_index.json"))).sorted()
                        .forEach(p -> found.putIfAbsent(p.getFileName().toString(), p));
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot list model packages in " + dir + ": " + e.getMessage(), e);
            }
        }
        if (found.isEmpty()) {
            throw new IllegalArgumentException("no model package (a folder with model_index.json) in " + dirs);
        }
        return new ModelCatalog(found, defaultId == null ? found.keySet().iterator().next() : defaultId, options);
    }

    /**
     * The packages shipped in a checkout's {@code models} folder (and its {@code fixtures}), with the
     * first of {@link #SHIPPED_DEFAULTS} that is present as the default unless {@code defaultId} is given.
     */
    public static ModelCatalog shipped(Path modelsDir, String defaultId, OnnxRuntimeOptions options) {
        ModelCatalog all = scan(List.of(modelsDir, modelsDir.resolve("fixtures")), null, options);
        String d = defaultId;
        if (d == null || d.isBlank()) {
            d = SHIPPED_DEFAULTS.stream().filter(all::contains).findFirst().orElse(all.defaultId());
        } else if (!all.contains(d)) {
            throw new ModelNotFoundException(d, all.ids());
        }
        return new ModelCatalog(all.roots, d, options);
    }

    /**
     * The same packages and default, each {@linkplain ModelPackage#describe described only}: layouts and
     * defaults for resolving requests, and no ONNX Runtime session in this process.
     */
    public ModelCatalog describingOnly() {
        return new ModelCatalog(roots, defaultId, null);
    }

    /** The shipped packages a newcomer should get, best first. */
    public static final List<String> SHIPPED_DEFAULTS = List.of("emoji-tiny", "sd15-tiny-kiln");

    public List<String> ids() {
        return new ArrayList<>(roots.keySet());
    }

    public String defaultId() {
        return defaultId;
    }

    public boolean contains(String id) {
        return roots.containsKey(id);
    }

    /** The id a request means: its own, or the default when it names none. */
    public String resolve(String id) {
        String m = id == null || id.isBlank() ? defaultId : id;
        if (!roots.containsKey(m)) {
            throw new ModelNotFoundException(m, roots.keySet());
        }
        return m;
    }

    /**
     * The package with this id (null or blank for the default), opened on first use.
     *
     * @throws ModelNotFoundException when no package has the id
     * @throws dev.kiln.pipeline.error.ModelLoadException when the package is broken; the next call tries again
     */
    public synchronized ModelPackage get(String id) {
        String m = resolve(id);
        ModelPackage p = open.get(m);
        if (p == null) {
            p = ModelPackage.load(m, roots.get(m), options);
            open.put(m, p);
        }
        return p;
    }

    /** Whether the package has been opened (a readiness check asks this without opening it). */
    public synchronized boolean isLoaded(String id) {
        return open.containsKey(resolve(id));
    }

    @Override
    public synchronized void close() {
        open.values().forEach(ModelPackage::close);
        open.clear();
    }
}
