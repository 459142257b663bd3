package dev.kiln.protocol.contract;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.error.StageUnavailableException;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.stage.LocalDecoderStage;
import dev.kiln.pipeline.stage.LocalDenoiserStage;
import dev.kiln.pipeline.stage.LocalEncoderStage;
import dev.kiln.protocol.client.RemoteStages;
import dev.kiln.protocol.server.StageServer;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The stage contract with the stages behind gRPC on loopback: each stage in its own server, called through
 * the gRPC clients, so every tensor, seed, error and cancellation crosses the wire.
 */
class GrpcWiringContractTest extends StageContractTest {
    static ModelCatalog serverCatalog;
    static ModelCatalog gatewayCatalog;
    static LocalEncoderStage encoder;
    static LocalDenoiserStage denoiser;
    static StageServer encoderServer;
    static StageServer denoiserServer;
    static StageServer decoderServer;
    static RemoteStages remote;
    static GenerationPipeline pipeline;

    @BeforeAll
    static void wire() {
        serverCatalog = newCatalog();
        encoder = new LocalEncoderStage(serverCatalog);
        denoiser = new LocalDenoiserStage(serverCatalog, OPTIONS);
        encoderServer = StageServer.start(0, encoder, null, null);
        denoiserServer = StageServer.start(0, null, denoiser, null);
        decoderServer = StageServer.start(0, null, null, new LocalDecoderStage(serverCatalog));
        remote = new RemoteStages(encoderServer.address(), denoiserServer.address(), decoderServer.address(),
                Duration.ofSeconds(60));
        gatewayCatalog = newCatalog();
        pipeline = remote.pipeline(gatewayCatalog);
    }

    @AfterAll
    static void unwire() {
        remote.close();
        encoderServer.close();
        denoiserServer.close();
        decoderServer.close();
        denoiser.close();
        encoder.close();
        serverCatalog.close();
        gatewayCatalog.close();
    }

    @Override
    GenerationPipeline wiring() {
        return pipeline;
    }

    @Override
    int serverQueueDepth() {
        return denoiser.queueDepth();
    }

    @Test
    void aStageThatIsNotThereFailsFastAsUnavailable() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (RemoteStages down = new RemoteStages("127.0.0.1:" + port, denoiserServer.address(), decoderServer.address(),
                Duration.ofSeconds(60))) {
            GenerationPipeline p = down.pipeline(gatewayCatalog);
            long t0 = System.nanoTime();
            StageUnavailableException e = assertThrows(StageUnavailableException.class,
                    () -> p.generate(request(KILN, 1).build()));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            // the call deadline here is 60 s: failing long before it is failing fast, on a loaded machine too
            assertTrue(ms < 30_000, "failed fast, not at the deadline: " + ms + " ms");
            assertTrue(e.getMessage().contains("encoder") && e.getMessage().contains(String.valueOf(port)), e.getMessage());
        }
    }
}
