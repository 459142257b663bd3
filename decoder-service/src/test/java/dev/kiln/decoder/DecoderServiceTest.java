package dev.kiln.decoder;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.noise.NoiseSource;
import dev.kiln.pipeline.stage.DecodeSpec;
import dev.kiln.pipeline.stage.LocalDecoderStage;
import dev.kiln.protocol.client.GrpcDecoderStage;
import dev.kiln.protocol.client.StageChannel;
import io.quarkus.test.junit.QuarkusTest;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The decoder service with the fixture models, called as the gateway calls it. */
@QuarkusTest
class DecoderServiceTest {
    private StageChannel channel;
    private GrpcDecoderStage decoder;

    @BeforeEach
    void connectWhenReady() throws InterruptedException {
        Instant end = Instant.now().plusSeconds(60);
        while (given().get("/q/health/ready").statusCode() != 200 && Instant.now().isBefore(end)) {
            Thread.sleep(50);
        }
        int port = ConfigProvider.getConfig().getValue("quarkus.grpc.server.test-port", Integer.class);
        channel = new StageChannel("decoder", "localhost:" + port, Duration.ofSeconds(30));
        decoder = new GrpcDecoderStage(channel);
    }

    @AfterEach
    void disconnect() {
        channel.close();
    }

    @Test
    void decodesAndEncodesExactlyAsTheInProcessStage() {
        NoiseSource noise = new NoiseSource(5, 0);
        List<float[]> latents = List.of(noise.gaussian(0, 4 * 8 * 8), noise.gaussian(1, 4 * 8 * 8));
        DecodeSpec spec = new DecodeSpec("sd15-tiny-kiln", latents, new long[] {4, 8, 8}, DecodeSpec.VAE,
                List.of(Map.of("parameters", "a"), Map.of("parameters", "b")));
        List<byte[]> remote = decoder.decode(spec);
        byte[] rgb = new byte[64 * 64 * 3];
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = (byte) (i * 31);
        }
        RgbImage image = new RgbImage(64, 64, rgb);
        float[] remoteLatent = decoder.encodeImage("sd15-tiny-kiln", image, 9);
        try (ModelCatalog catalog = ModelCatalog.scan(List.of(Path.of(System.getProperty("kiln.models.dir"), "fixtures")),
                null, OnnxRuntimeOptions.cpu())) {
            LocalDecoderStage local = new LocalDecoderStage(catalog);
            List<byte[]> expected = local.decode(spec);
            assertEquals(2, remote.size());
            assertArrayEquals(expected.get(0), remote.get(0));
            assertArrayEquals(expected.get(1), remote.get(1));
            assertArrayEquals(local.encodeImage("sd15-tiny-kiln", image, 9), remoteLatent);
        }
        // the request's two pictures went through the VAE in one call
        given().get("/q/metrics").then()
                .body(containsString("kiln_decoder_batch_size_count{model=\"sd15-tiny-kiln\"} 1.0"))
                .body(containsString("kiln_decoder_batch_size_sum{model=\"sd15-tiny-kiln\"} 2.0"));
    }

    @Test
    void anUnknownDecoderIsAnInvalidRequestNamingTheField() {
        DecodeSpec spec = new DecodeSpec("sd15-tiny-kiln", List.of(new float[4 * 8 * 8]), new long[] {4, 8, 8},
                "consistency_decoder", List.of(Map.of()));
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> decoder.decode(spec));
        assertEquals("decoder", e.param());
        given().get("/q/metrics").then()
                .body(containsString("kiln_requests_rejected_total{reason=\"invalid_request\",stage=\"decoder\"}"))
                .body(containsString("kiln_stage_queue_depth{stage=\"decoder\"} 0.0"));
    }
}
