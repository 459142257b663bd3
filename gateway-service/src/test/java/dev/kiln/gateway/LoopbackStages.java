package dev.kiln.gateway;

import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.stage.LocalDecoderStage;
import dev.kiln.pipeline.stage.LocalDenoiserStage;
import dev.kiln.pipeline.stage.LocalEncoderStage;
import dev.kiln.protocol.server.StageServer;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The three stages on loopback gRPC for a gateway test in distributed mode: the fixture models behind bare
 * stage servers, each on its own port, with a denoiser queue of {@link #MAX_QUEUED}. The encoder can be
 * stopped and started again on the same port.
 */
public class LoopbackStages implements QuarkusTestResourceLifecycleManager {
    static final int MAX_QUEUED = 2;

    static ModelCatalog catalog;
    static LocalEncoderStage encoder;
    static LocalDenoiserStage denoiser;
    static StageServer encoderServer;
    static StageServer denoiserServer;
    static StageServer decoderServer;
    static int encoderPort;

    @Override
    public Map<String, String> start() {
        catalog = ModelCatalog.scan(List.of(Path.of(System.getProperty("kiln.models.dir"), "fixtures")), "sd15-tiny-kiln",
                OnnxRuntimeOptions.cpu().withThreads(1));
        encoder = new LocalEncoderStage(catalog);
        denoiser = new LocalDenoiserStage(catalog, new DenoiseLoopOptions(8, Duration.ZERO, MAX_QUEUED));
        encoderServer = StageServer.start(0, encoder, null, null);
        encoderPort = Integer.parseInt(encoderServer.address().substring(encoderServer.address().lastIndexOf(':') + 1));
        denoiserServer = StageServer.start(0, null, denoiser, null);
        decoderServer = StageServer.start(0, null, null, new LocalDecoderStage(catalog));
        return Map.of("kiln.mode", "distributed",
                "kiln.encoder.address", encoderServer.address(),
                "kiln.denoiser.address", denoiserServer.address(),
                "kiln.decoder.address", decoderServer.address());
    }

    static void stopEncoder() {
        encoderServer.close();
    }

    static void startEncoder() {
        encoderServer = StageServer.start(encoderPort, encoder, null, null);
    }

    @Override
    public void stop() {
        encoderServer.close();
        denoiserServer.close();
        decoderServer.close();
        denoiser.close();
        encoder.close();
        catalog.close();
    }
}
