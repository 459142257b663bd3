package dev.kiln.protocol.contract;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.error.StageUnavailableException;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.stage.LocalDecoderStage;
import dev.kiln.pipeline.stage.LocalDenoiserStage;
import dev.kiln.pipeline.stage.LocalEncoderStage;
import dev.kiln.pipeline.stage.Conditioning;
import dev.kiln.pipeline.stage.DenoiseSpec;
import dev.kiln.pipeline.stage.EncodeSpec;
import dev.kiln.protocol.StageMessages;
import dev.kiln.protocol.TensorCodec;
import dev.kiln.protocol.client.RemoteStages;
import dev.kiln.protocol.server.StageServer;
import dev.kiln.protocol.v1.DenoiseEvent;
import dev.kiln.protocol.v1.DenoiserGrpc;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
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

    /** The events of one Denoise call, read to its end. */
    static List<DenoiseEvent> events(DenoiseSpec spec, int previewEvery, boolean resultOnly) {
        List<DenoiseEvent> events = new ArrayList<>();
        DenoiserGrpc.newBlockingStub(remote.channels().get(1).channel()).withDeadlineAfter(60, TimeUnit.SECONDS)
                .denoise(StageMessages.denoiseRequest(spec, previewEvery, resultOnly)).forEachRemaining(events::add);
        return events;
    }

    @Test
    void aResultOnlyCallCarriesNoStepEventsButThePreviewsItAsksForAndTheSameResult() {
        Conditioning c = encoder.encode(new EncodeSpec(KILN, "a kiln at dusk", "", true));
        DenoiseSpec spec = new DenoiseSpec(KILN, c, 64, 64, 6, "euler", 7.5, new long[] {8}, null, 1.0);

        List<DenoiseEvent> every = events(spec, 0, false);
        List<DenoiseEvent> quiet = events(spec, 0, true);
        List<DenoiseEvent> previews = events(spec, 4, true);

        assertEquals(7, every.size(), "an event per step, then the result");
        assertEquals(1, quiet.size(), "the result alone");
        assertEquals(List.of(4, 6), previews.subList(0, previews.size() - 1).stream()
                .map(e -> e.getProgress().getStep()).toList(), "the steps preview_every asks for, and the last");
        assertTrue(previews.subList(0, previews.size() - 1).stream().allMatch(e -> e.getProgress().hasLatents()));
        float[] expected = TensorCodec.floats(every.get(6).getResult().getLatents());
        assertArrayEquals(expected, TensorCodec.floats(quiet.get(0).getResult().getLatents()));
        assertArrayEquals(expected, TensorCodec.floats(previews.get(previews.size() - 1).getResult().getLatents()));
    }
}
