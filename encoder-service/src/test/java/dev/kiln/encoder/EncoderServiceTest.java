package dev.kiln.encoder;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.error.ModelNotFoundException;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.stage.Conditioning;
import dev.kiln.pipeline.stage.EncodeSpec;
import dev.kiln.pipeline.stage.LocalEncoderStage;
import dev.kiln.protocol.client.GrpcEncoderStage;
import dev.kiln.protocol.client.StageChannel;
import io.quarkus.test.junit.QuarkusTest;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The encoder service with the fixture models, called as the gateway calls it. */
@QuarkusTest
class EncoderServiceTest {
    private StageChannel channel;
    private GrpcEncoderStage encoder;

    @BeforeEach
    void connectWhenReady() throws InterruptedException {
        Instant end = Instant.now().plusSeconds(60);
        while (given().get("/q/health/ready").statusCode() != 200 && Instant.now().isBefore(end)) {
            Thread.sleep(50);
        }
        int port = ConfigProvider.getConfig().getValue("quarkus.grpc.server.test-port", Integer.class);
        channel = new StageChannel("encoder", "localhost:" + port, Duration.ofSeconds(30));
        encoder = new GrpcEncoderStage(channel);
    }

    @AfterEach
    void disconnect() {
        channel.close();
    }

    @Test
    void readyWithTheModels() {
        given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"))
                .body("checks.data.default_model", hasItem("sd15-tiny-kiln"));
    }

    @Test
    void encodesExactlyAsTheInProcessStage() {
        EncodeSpec spec = new EncodeSpec("sd15-tiny-optimum", "a kiln at dusk", "blurry", true);
        Conditioning remote = encoder.encode(spec);
        try (ModelCatalog catalog = ModelCatalog.scan(List.of(Path.of(System.getProperty("kiln.models.dir"), "fixtures")),
                null, OnnxRuntimeOptions.cpu());
             LocalEncoderStage local = new LocalEncoderStage(catalog)) {
            Conditioning expected = local.encode(spec);
            assertArrayEquals(expected.contextShape(), remote.contextShape());
            assertArrayEquals(expected.cond(), remote.cond());
            assertArrayEquals(expected.uncond(), remote.uncond());
            assertTrue(remote.cond() == remote.condV(), "one context travels once and serves keys and values");
        }
    }

    @Test
    void anUnknownModelIsNotFoundAndCountedAsRejected() {
        ModelNotFoundException e = assertThrows(ModelNotFoundException.class,
                () -> encoder.encode(new EncodeSpec("sdxl", "a kiln", "", false)));
        assertTrue(e.getMessage().contains("'sdxl' does not exist; available: "), e.getMessage());
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("kiln_requests_rejected_total{reason=\"not_found\",stage=\"encoder\"} "))
                .body(containsString("kiln_stage_request_seconds_count{outcome=\"not_found\",stage=\"encoder\"}"));
    }

    @Test
    void stageMetricsAreExported() {
        encoder.encode(new EncodeSpec(null, "a kiln", "", false));
        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
        assertTrue(metrics.contains("kiln_stage_queue_depth{stage=\"encoder\"} 0.0"), "depth back at 0");
        assertTrue(metrics.contains("kiln_stage_request_seconds_bucket{outcome=\"ok\",stage=\"encoder\""), "histogram");
        assertTrue(metrics.contains("kiln_requests_rejected_total{reason=\"queue_full\",stage=\"encoder\"} 0.0"));
        assertTrue(metrics.contains("kiln_encoder_batch_size_count{model=\"sd15-tiny-kiln\"}"), "prompts per encoder call");
        assertEquals(200, given().get("/q/health/live").statusCode());
    }
}
