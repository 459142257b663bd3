package dev.kiln.service;

import dev.kiln.pipeline.error.StageUnavailableException;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * The stage this process runs and the models it serves.
 *
 * <p>Models come from {@code kiln.model.dir} (one package, its folder name the model id; {@code KILN_MODEL_DIR}
 * in containers) or {@code kiln.models.dir} (every package in that folder and its {@code fixtures}, as a
 * checkout ships them), with {@code kiln.model.default} for requests that name none. The default model's
 * sessions open in the background at start-up: the process answers health checks at once, readiness turns
 * UP when the sessions are open, and until then every call is answered UNAVAILABLE with the reason.
 */
@Singleton
public class StageState {
    private static final Logger LOG = Logger.getLogger(StageState.class);

    private final String stage;
    private final Optional<String> modelDir;
    private final Optional<String> modelsDir;
    private final Optional<String> defaultModel;
    private final OnnxRuntimeOptions options;
    private final List<AutoCloseable> closeOnShutdown = new CopyOnWriteArrayList<>();
    private volatile ModelCatalog catalog;
    private volatile String problem = "models are loading";

    StageState(@ConfigProperty(name = "kiln.stage.name") String stage,
               @ConfigProperty(name = "kiln.model.dir") Optional<String> modelDir,
               @ConfigProperty(name = "kiln.models.dir") Optional<String> modelsDir,
               @ConfigProperty(name = "kiln.model.default") Optional<String> defaultModel,
               @ConfigProperty(name = "kiln.onnx.provider", defaultValue = "cpu") String provider,
               @ConfigProperty(name = "kiln.onnx.threads", defaultValue = "0") int threads) {
        this.stage = stage;
        this.modelDir = modelDir.filter(s -> !s.isBlank());
        this.modelsDir = modelsDir.filter(s -> !s.isBlank());
        this.defaultModel = defaultModel.filter(s -> !s.isBlank());
        this.options = new OnnxRuntimeOptions(provider, 0, true, threads);
    }

    void start(@Observes StartupEvent e) {
        Thread loader = new Thread(this::load, "kiln-" + stage + "-model-loader");
        loader.setDaemon(true);
        loader.start();
    }

    private void load() {
        try {
            ModelCatalog c = open();
            c.get(c.defaultId());
            catalog = c;
            problem = null;
            LOG.infof("%s stage ready: models %s, default %s", stage, c.ids(), c.defaultId());
        } catch (RuntimeException ex) {
            problem = "model not loaded: " + ex.getMessage();
            LOG.errorf("%s stage: %s; readiness stays DOWN", stage, problem);
        }
    }

    private ModelCatalog open() {
        if (modelDir.isPresent()) {
            Path dir = Path.of(modelDir.get()).toAbsolutePath().normalize();
            if (!Files.isRegularFile(dir.resolve("model_index.json"))) {
                throw new IllegalArgumentException(dir + (Files.isDirectory(dir) ? " holds no model_index.json"
                        : " is not a directory") + " (kiln.model.dir)");
            }
            return ModelCatalog.of(dir, options);
        }
        if (modelsDir.isPresent()) {
            return ModelCatalog.shipped(Path.of(modelsDir.get()).toAbsolutePath().normalize(), defaultModel.orElse(null), options);
        }
        throw new IllegalArgumentException("neither kiln.model.dir (one model package) nor kiln.models.dir "
                + "(a folder of them) is set");
    }

    /** The stage name used in metric labels and messages: encoder, denoiser, decoder. */
    public String stage() {
        return stage;
    }

    /** Null once the models are loaded; else why they are not. */
    public String problem() {
        return problem;
    }

    /**
     * The loaded catalog.
     *
     * @throws StageUnavailableException while the models load or after they failed to, which callers get
     *                                   as UNAVAILABLE and may retry on another replica
     */
    public ModelCatalog catalog() {
        ModelCatalog c = catalog;
        if (c == null) {
            throw new StageUnavailableException(stage, "the " + stage + " is not ready: " + problem);
        }
        return c;
    }

    /** Closes {@code resource} (a stage over the catalog) at shutdown, before the catalog's sessions. */
    public void closeOnShutdown(AutoCloseable resource) {
        closeOnShutdown.add(resource);
    }

    void stop(@Observes ShutdownEvent e) {
        for (AutoCloseable r : closeOnShutdown) {
            try {
                r.close();
            } catch (Exception ex) {
                LOG.warnf("closing %s failed: %s", r, ex.toString());
            }
        }
        ModelCatalog c = catalog;
        if (c != null) {
            c.close();
        }
    }
}
