package dev.kiln.denoiser;

import dev.kiln.protocol.v1.DenoiseEvent;
import dev.kiln.protocol.v1.DenoiseRequest;
import dev.kiln.protocol.v1.DenoiserGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.junit.QuarkusTest;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The denoiser as a client, a probe and a scraper see it when no model package is configured in place. */
@QuarkusTest
class DenoiserServiceTest {

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
                .body(containsString("kiln_stage_queue_depth{stage=\"denoiser\"} 0.0"));
    }

    @Test
    void denoiseStreamFailsUnavailable() throws InterruptedException {
        int port = ConfigProvider.getConfig().getValue("quarkus.grpc.server.test-port", Integer.class);
        ManagedChannel channel = ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
        try {
            Iterator<DenoiseEvent> events = DenoiserGrpc.newBlockingStub(channel)
                    .denoise(DenoiseRequest.newBuilder().setSteps(20).build());
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, events::hasNext);
            assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
            assertEquals(MISSING, e.getStatus().getDescription());
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        given().get("/q/metrics").then()
                .body(containsString("kiln_stage_request_seconds_count{outcome=\"unavailable\",stage=\"denoiser\"}"));
    }
}
