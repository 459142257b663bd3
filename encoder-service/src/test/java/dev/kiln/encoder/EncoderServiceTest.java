package dev.kiln.encoder;

import dev.kiln.protocol.v1.EncodeRequest;
import dev.kiln.protocol.v1.EncoderGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The encoder as a client and a probe see it when no model package is where the configuration points. */
@QuarkusTest
class EncoderServiceTest {

    private static final String MISSING = "model not loaded: " + Path.of("target/no-model-here").toAbsolutePath();

    private ManagedChannel channel;

    @BeforeEach
    void connect() {
        // a plain grpc-java client, as any caller outside Quarkus would connect
        int port = ConfigProvider.getConfig().getValue("quarkus.grpc.server.test-port", Integer.class);
        channel = ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
    }

    @AfterEach
    void disconnect() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    @Test
    void liveWithoutAModel() {
        given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
    }

    @Test
    void notReadyAndSaysWhichFolderHasNoModel() {
        given().get("/q/health/ready").then()
                .statusCode(503)
                .body("status", equalTo("DOWN"))
                .body("checks.name", hasItem("encoder model"))
                .body("checks.data.reason", hasItem(MISSING + " (no such directory)"));
    }

    @Test
    void encodeIsUnavailableAndCountedAsSuch() {
        EncoderGrpc.EncoderBlockingStub encoder = EncoderGrpc.newBlockingStub(channel);
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> encoder.encode(EncodeRequest.newBuilder().addPrompts("a kiln at dusk").build()));

        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
        assertEquals(MISSING + " (no such directory)", e.getStatus().getDescription());
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("kiln_stage_request_seconds_count{outcome=\"unavailable\",stage=\"encoder\"}"));
    }

    @Test
    void queueDepthIsExportedForTheStage() {
        // requests finish before the scrape, so the gauge is back at 0
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("kiln_stage_queue_depth{stage=\"encoder\"} 0.0"));
    }
}
