package dev.kiln.decoder;

import dev.kiln.protocol.TensorCodec;
import dev.kiln.protocol.v1.DecodeRequest;
import dev.kiln.protocol.v1.DecoderGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The decoder as a client, a probe and a scraper see it when no model package is configured in place. */
@QuarkusTest
class DecoderServiceTest {

    private static final String MISSING = "model not loaded: " + Path.of("target/no-model-here").toAbsolutePath()
            + " (no such directory)";

    @Test
    void liveButNotReadyWithoutAModel() {
        given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
        given().get("/q/health/ready").then()
                .statusCode(503)
                .body("status", equalTo("DOWN"))
                .body("checks.data.reason", hasItem(MISSING));
    }

    @Test
    void queueDepthIsExportedForTheStage() {
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("kiln_stage_queue_depth{stage=\"decoder\"} 0.0"));
    }

    @Test
    void decodeIsUnavailable() throws InterruptedException {
        int port = ConfigProvider.getConfig().getValue("quarkus.grpc.server.test-port", Integer.class);
        ManagedChannel channel = ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
        try {
            DecodeRequest request = DecodeRequest.newBuilder()
                    .setLatents(TensorCodec.float32(new float[4 * 64 * 64], 1, 4, 64, 64))
                    .build();
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> DecoderGrpc.newBlockingStub(channel).decode(request));
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
            assertEquals(MISSING, e.getStatus().getDescription());
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
