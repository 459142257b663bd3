package dev.kiln.gateway;

import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * The pipeline of embedded mode, with every stage in this process. The default model is opened at
 * start-up, in the background, so the server answers health checks at once and turns ready when the
 * sessions are loaded.
 */
@ApplicationScoped
public class EmbeddedPipeline {
    private static final Logger LOG = Logger.getLogger(EmbeddedPipeline.class);

    @ConfigProperty(name = "kiln.models.dir")
    Path modelsDir;
    @ConfigProperty(name = "kiln.model.default")
    Optional<String> defaultModel;
    @ConfigProperty(name = "kiln.onnx.provider")
    String provider;
    @ConfigProperty(name = "kiln.onnx.threads")
    int threads;
    @ConfigProperty(name = "kiln.denoiser.max-rows")
    int maxRows;
    @ConfigProperty(name = "kiln.denoiser.max-fill-wait")
    Duration maxFillWait;
    @ConfigProperty(name = "kiln.denoiser.max-queued")
    int maxQueued;

    private volatile GenerationPipeline pipeline;
    private volatile String problem = "models are loading";

    void start(@Observes StartupEvent e) {
        Thread loader = new Thread(this::load, "kiln-model-loader");
        loader.setDaemon(true);
        loader.start();
    }

    private void load() {
        try {
            OnnxRuntimeOptions options = new OnnxRuntimeOptions(provider, 0, true, threads);
            ModelCatalog catalog = ModelCatalog.shipped(modelsDir.toAbsolutePath().normalize(), defaultModel.orElse(null), options);
            catalog.get(catalog.defaultId());
            pipeline = GenerationPipeline.embedded(catalog, new DenoiseLoopOptions(maxRows, maxFillWait, maxQueued));
            problem = null;
            LOG.infof("embedded pipeline ready: models %s, default %s", catalog.ids(), catalog.defaultId());
        } catch (RuntimeException ex) {
            problem = "models not loaded: " + ex.getMessage();
            LOG.error(problem, ex);
        }
    }

    /** Null when ready; else why not. */
    public String problem() {
        return problem;
    }

    /**
     * @throws dev.kiln.pipeline.error.StageUnavailableException while models are loading or failed to load
     */
    public GenerationPipeline get() {
        GenerationPipeline p = pipeline;
        if (p == null) {
            throw new dev.kiln.pipeline.error.StageUnavailableException("gateway", problem);
        }
        return p;
    }

    void stop(@Observes ShutdownEvent e) {
        GenerationPipeline p = pipeline;
        if (p != null) {
            p.close();
            p.catalog().close();
        }
    }
}
