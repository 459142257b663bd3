package dev.kiln.encoder;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.error.StageUnavailableException;
import dev.kiln.pipeline.stage.EncodeSpec;
import dev.kiln.protocol.client.GrpcEncoderStage;
import dev.kiln.protocol.client.StageChannel;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import java.time.Duration;
import java.util.Map;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

/** Pointed at a folder with no models: live, never ready, and calls are UNAVAILABLE with the reason. */
@QuarkusTest
@TestProfile(EncoderWithoutModelsTest.NoModels.class)
class EncoderWithoutModelsTest {
    public static class NoModels implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("kiln.model.dir", "target/no-model-here");
        }
    }

    @Test
    void liveButNotReadyAndCallsAreUnavailable() throws InterruptedException {
        for (int i = 0; i < 100 && given().get("/q/health/ready").asString().contains("models are loading"); i++) {
            Thread.sleep(50);
        }
        given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
        given().get("/q/health/ready").then().statusCode(503).body(containsString("no-model-here is not a directory"));
        int port = ConfigProvider.getConfig().getValue("quarkus.grpc.server.test-port", Integer.class);
        try (StageChannel channel = new StageChannel("encoder", "localhost:" + port, Duration.ofSeconds(10))) {
            StageUnavailableException e = assertThrows(StageUnavailableException.class,
                    () -> new GrpcEncoderStage(channel).encode(new EncodeSpec(null, "a kiln", "", false)));
            assertTrue(e.getMessage().contains("no-model-here is not a directory"), e.getMessage());
        }
        given().get("/q/metrics").then()
                .body(containsString("kiln_requests_rejected_total{reason=\"not_ready\",stage=\"encoder\"} 1.0"));
    }
}
