package dev.kiln.gateway;

import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.GenerationResult;
import dev.kiln.pipeline.GenerationSettings;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.error.StageUnavailableException;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.protocol.client.RemoteStages;
import dev.kiln.protocol.client.StageChannel;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * How this gateway reaches the encoder, denoiser and decoder stages, chosen by {@code kiln.mode}:
 * {@code embedded} runs them in this process, {@code distributed} calls the stage services over gRPC at
 * {@code kiln.encoder.address}, {@code kiln.denoiser.address} and {@code kiln.decoder.address}. Everything
 * above this bean (the images endpoint, jobs) sees the same {@link GenerationPipeline} either way.
 *
 * <p>The model catalog is opened in the background at start-up, so the server answers health checks at
 * once and turns ready when the default model is loaded. Each generation runs under a deadline
 * ({@code kiln.request.timeout} unless the caller gives one) that travels to the stages.
 */
@ApplicationScoped
public class StageWiring {
    private static final Logger LOG = Logger.getLogger(StageWiring.class);

    public static final String EMBEDDED = "embedded";
    public static final String DISTRIBUTED = "distributed";

    @ConfigProperty(name = "kiln.mode", defaultValue = EMBEDDED)
    String mode;
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
    @ConfigProperty(name = "kiln.request.timeout", defaultValue = "120s")
    Duration timeout;
    @ConfigProperty(name = "kiln.encoder.address", defaultValue = "localhost:9081")
    String encoderAddress;
    @ConfigProperty(name = "kiln.denoiser.address", defaultValue = "localhost:9082")
    String denoiserAddress;
    @ConfigProperty(name = "kiln.decoder.address", defaultValue = "localhost:9083")
    String decoderAddress;

    private volatile GenerationPipeline pipeline;
    private volatile RemoteStages remote;
    private volatile String problem = "models are loading";

    void start(@Observes StartupEvent e) {
        if (!mode.equals(EMBEDDED) && !mode.equals(DISTRIBUTED)) {
            problem = "kiln.mode must be " + EMBEDDED + " or " + DISTRIBUTED + ", was '" + mode + "'";
            LOG.error(problem);
            return;
        }
        Thread loader = new Thread(this::load, "kiln-model-loader");
        loader.setDaemon(true);
        loader.start();
    }

    private void load() {
        try {
            OnnxRuntimeOptions options = new OnnxRuntimeOptions(provider, 0, true, threads);
            ModelCatalog shipped = ModelCatalog.shipped(modelsDir.toAbsolutePath().normalize(), defaultModel.orElse(null), options);
            // distributed mode reads the packages too (request defaults, size rules and latent shapes), but the
            // stages run them: it describes them, holding none of their weights
            ModelCatalog catalog = mode.equals(DISTRIBUTED) ? shipped.describingOnly() : shipped;
            catalog.get(catalog.defaultId());
            if (mode.equals(DISTRIBUTED)) {
                remote = new RemoteStages(encoderAddress, denoiserAddress, decoderAddress, timeout);
                pipeline = remote.pipeline(catalog);
                LOG.infof("stages: encoder %s, denoiser %s, decoder %s", encoderAddress, denoiserAddress, decoderAddress);
            } else {
                pipeline = GenerationPipeline.embedded(catalog, new DenoiseLoopOptions(maxRows, maxFillWait, maxQueued));
            }
            problem = null;
            LOG.infof("%s pipeline ready: models %s, default %s", mode, catalog.ids(), catalog.defaultId());
        } catch (RuntimeException ex) {
            problem = "models not loaded: " + ex.getMessage();
            LOG.error(problem, ex);
        }
    }

    /** {@code embedded} or {@code distributed}, as the {@code mode} label of metrics says. */
    public String mode() {
        return mode;
    }

    /** The stage channels of distributed mode (for readiness reports); empty in embedded mode. */
    public List<StageChannel> channels() {
        RemoteStages r = remote;
        return r == null ? List.of() : r.channels();
    }

    /** Null when ready; else why not. */
    public String problem() {
        return problem;
    }

    /** How long a generation may take when its caller gives no deadline of its own. */
    public Duration timeout() {
        return timeout;
    }

    /**
     * @throws StageUnavailableException while models are loading or failed to load
     */
    public GenerationPipeline pipeline() {
        GenerationPipeline p = pipeline;
        if (p == null) {
            throw new StageUnavailableException("gateway", problem);
        }
        return p;
    }

    /** Runs checked settings through the stages within {@link #timeout()}. */
    public GenerationResult generate(GenerationSettings settings, DenoiseProgress progress, BooleanSupplier cancelled) {
        return generate(settings, progress, cancelled, Instant.now().plus(timeout));
    }

    /**
     * Runs checked settings through the stages; gives up at {@code deadline}.
     *
     * @param cancelled polled between denoising steps; once true the request leaves its batch
     * @throws dev.kiln.pipeline.error.DeadlineExceededException when the deadline passes first
     * @throws java.util.concurrent.CancellationException when {@code cancelled} turned true
     */
    public GenerationResult generate(GenerationSettings settings, DenoiseProgress progress, BooleanSupplier cancelled,
                                     Instant deadline) {
        return pipeline().generate(settings, progress, cancelled, deadline);
    }

    void stop(@Observes ShutdownEvent e) {
        GenerationPipeline p = pipeline;
        if (p != null) {
            p.close();
            p.catalog().close();
        }
        RemoteStages r = remote;
        if (r != null) {
            r.close();
        }
    }
}
