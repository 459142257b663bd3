package dev.kiln.protocol.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.GenerationRequest;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.stage.Conditioning;
import dev.kiln.pipeline.stage.DenoiseSpec;
import dev.kiln.pipeline.stage.EncodeSpec;
import dev.kiln.pipeline.stage.LocalDecoderStage;
import dev.kiln.pipeline.stage.LocalDenoiserStage;
import dev.kiln.pipeline.stage.LocalEncoderStage;
import dev.kiln.protocol.StageErrors;
import dev.kiln.protocol.StageMessages;
import dev.kiln.protocol.TensorCodec;
import dev.kiln.protocol.server.StageServer;
import dev.kiln.protocol.v1.DenoiseEvent;
import dev.kiln.protocol.v1.DenoiseRequest;
import dev.kiln.protocol.v1.DenoiserGrpc;
import dev.kiln.protocol.v1.EncodeResponse;
import dev.kiln.protocol.v1.EncoderGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Negative prompt states by ref (kiln.v1.Conditioning.ref): the encoder names the states it hands out again,
 * a caller holding them gets the ref alone, the denoiser takes the ref alone for states it was sent before and
 * refuses an unknown one so that the client sends the tensors again; the images stay those of the embedded wiring.
 */
class ConditioningByRefTest {
    static final String KILN = "sd15-tiny-kiln";
    static ModelCatalog catalog;
    static LocalEncoderStage encoder;
    static LocalDenoiserStage denoiser;
    static StageServer encoderServer;
    static StageServer denoiserServer;
    static ManagedChannel encoderChannel;
    static ManagedChannel denoiserChannel;

    @BeforeAll
    static void serve() {
        catalog = ModelCatalog.scan(List.of(Path.of(System.getProperty("kiln.models.dir", "../models")).resolve("fixtures")),
                KILN, OnnxRuntimeOptions.cpu().withThreads(1));
        encoder = new LocalEncoderStage(catalog);
        denoiser = new LocalDenoiserStage(catalog, new DenoiseLoopOptions(8, Duration.ZERO, 16));
        encoderServer = StageServer.start(0, encoder, null, null);
        denoiserServer = StageServer.start(0, null, denoiser, null);
        encoderChannel = ManagedChannelBuilder.forTarget(encoderServer.address()).usePlaintext().build();
        denoiserChannel = ManagedChannelBuilder.forTarget(denoiserServer.address()).usePlaintext().build();
    }

    @AfterAll
    static void stop() throws InterruptedException {
        encoderChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        denoiserChannel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        encoderServer.close();
        denoiserServer.close();
        denoiser.close();
        encoder.close();
        catalog.close();
    }

    static EncodeResponse encode(String prompt, String negative, String held) {
        return EncoderGrpc.newBlockingStub(encoderChannel).encode(
                StageMessages.encodeRequest(new EncodeSpec(KILN, prompt, negative, true), held));
    }

    static DenoiseSpec spec(Conditioning c, long seed) {
        return new DenoiseSpec(KILN, c, 64, 64, 3, "euler", 7.5, new long[] {seed}, null, 1.0, "teacher");
    }

    static float[] denoise(DenoiseRequest request) {
        List<DenoiseEvent> events = new ArrayList<>();
        DenoiserGrpc.newBlockingStub(denoiserChannel).denoise(request).forEachRemaining(events::add);
        return TensorCodec.floats(events.get(events.size() - 1).getResult().getLatents());
    }

    @Test
    void theEncoderSendsTheRefAloneToACallerThatHoldsIt() {
        EncodeResponse first = encode("a kiln", "", "");
        String ref = first.getUncond().getRef();
        assertFalse(ref.isEmpty(), "the negative prompt's states are kept, so they get a ref");
        assertTrue(first.getUncond().hasContextK());
        assertTrue(first.getCond().getRef().isEmpty(), "a prompt's own states get no ref");

        EncodeResponse again = encode("a jug", "", ref);
        assertEquals(ref, again.getUncond().getRef());
        assertFalse(again.getUncond().hasContextK(), "the caller holds them: the ref alone");
        assertTrue(again.getCond().hasContextK());

        EncodeResponse stranger = encode("a jug", "", "someone-else-7");
        assertEquals(ref, stranger.getUncond().getRef());
        assertTrue(stranger.getUncond().hasContextK(), "a ref the encoder did not give: the tensors");
        assertEquals(first.getUncond().getContextK(), stranger.getUncond().getContextK());

        EncodeResponse other = encode("a jug", "blurry", ref);
        assertNotEquals(ref, other.getUncond().getRef(), "another negative prompt, other states, another ref");
        assertTrue(other.getUncond().hasContextK());
    }

    @Test
    void theDenoiserTakesTheRefAloneForStatesItWasSentAndRefusesOthers() {
        EncodeResponse r = encode("a kiln at dusk", "", "");
        String ref = r.getUncond().getRef();
        Conditioning c = StageMessages.conditioning(r);
        float[] full = denoise(StageMessages.denoiseRequest(spec(c, 11), 0, true, ref, false));
        float[] byRef = denoise(StageMessages.denoiseRequest(spec(c, 11), 0, true, ref, true));
        assertArrayEquals(full, byRef, "the ref stands for the same states");
        DenoiseRequest alone = StageMessages.denoiseRequest(spec(c, 11), 0, true, ref, true);
        assertFalse(alone.getUncond().hasContextK());

        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> denoise(StageMessages.denoiseRequest(spec(c, 11), 0, true, "never-sent-1", true)));
        assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode());
        Metadata trailers = e.getTrailers();
        assertEquals("never-sent-1", trailers.get(StageErrors.UNKNOWN_CONDITIONING_REF));
        assertTrue(e.getStatus().getDescription().contains("send its tensors"), e.getStatus().getDescription());
        // and the denoiser still serves
        assertArrayEquals(full, denoise(StageMessages.denoiseRequest(spec(c, 11), 0, true, ref, true)));
    }

    @Test
    void aDenoiserThatLostTheStatesGetsTheTensorsAgainAndTheImagesStayTheEmbeddedOnes() throws Exception {
        try (LocalDenoiserStage second = new LocalDenoiserStage(catalog, new DenoiseLoopOptions(8, Duration.ZERO, 16));
             GenerationPipeline embedded = GenerationPipeline.embedded(catalog, new DenoiseLoopOptions(8, Duration.ZERO, 16))) {
            StageServer decoderServer = StageServer.start(0, null, null, new LocalDecoderStage(catalog));
            StageServer restartable = StageServer.start(0, null, second, null);
            int port = Integer.parseInt(restartable.address().substring(restartable.address().lastIndexOf(':') + 1));
            try (RemoteStages remote = new RemoteStages(encoderServer.address(), restartable.address(),
                    decoderServer.address(), Duration.ofSeconds(60))) {
                GenerationPipeline p = remote.pipeline(catalog);
                List<byte[]> got = new ArrayList<>();
                for (long seed = 1; seed <= 3; seed++) {
                    got.add(p.generate(request(seed)).images().get(0).png());
                }
                assertArrayEquals(new long[] {2, 0}, remote.denoiser().byRefCalls(),
                        "the first request sends the states, the next two their ref");

                // a restarted denoiser holds nothing: the ref alone is refused once, then the tensors go
                restartable.close();
                restartable = StageServer.start(port, null, second, null);
                got.add(p.generate(request(4)).images().get(0).png());
                assertArrayEquals(new long[] {3, 1}, remote.denoiser().byRefCalls());
                got.add(p.generate(request(5)).images().get(0).png());
                assertArrayEquals(new long[] {4, 1}, remote.denoiser().byRefCalls());

                for (int i = 0; i < got.size(); i++) {
                    assertArrayEquals(embedded.generate(request(i + 1)).images().get(0).png(), got.get(i),
                            "image " + (i + 1) + " is the embedded wiring's");
                }
            } finally {
                restartable.close();
                decoderServer.close();
            }
        }
    }

    static GenerationRequest request(long seed) {
        return GenerationRequest.builder("a kiln firing pots, number " + seed).model(KILN).size(64, 64).steps(3)
                .scheduler("euler").guidance(7.5).seed(seed).build();
    }
}
