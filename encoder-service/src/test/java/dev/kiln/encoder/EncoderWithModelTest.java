package dev.kiln.encoder;

import dev.kiln.protocol.v1.EncodeRequest;
import dev.kiln.protocol.v1.EncoderGrpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** With a model package in place: ready, and requests fail only for what is wrong with them. */
@QuarkusTest
@TestProfile(ModelPackageFixture.class)
class EncoderWithModelTest {

    private ManagedChannel channel;
    private EncoderGrpc.EncoderBlockingStub encoder;

    @BeforeEach
    void connect() {
        int port = ConfigProvider.getConfig().getValue("quarkus.grpc.server.test-port", Integer.class);
        channel = ManagedChannelBuilder.forAddress("localhost", port).usePlaintext().build();
        encoder = EncoderGrpc.newBlockingStub(channel);
    }

    @AfterEach
    void disconnect() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    @Test
    void readyWithTheModelId() {
        given().get("/q/health/ready").then()
                .statusCode(200)
                .body("status", equalTo("UP"))
                .body("checks.data.model", hasItem(ModelPackageFixture.MODEL_ID));
    }

    @Test
    void aModelThisReplicaDoesNotServeIsNotFound() {
        StatusRuntimeException e = call(EncodeRequest.newBuilder().setModelId("sdxl").addPrompts("a kiln"));
        assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
        assertEquals("model 'sdxl' is not served by this encoder; it serves 'tiny-sd-fixture'", e.getStatus().getDescription());
    }

    @Test
    void malformedRequestsAreInvalid() {
        StatusRuntimeException noPrompts = call(EncodeRequest.newBuilder());
        assertEquals(Status.Code.INVALID_ARGUMENT, noPrompts.getStatus().getCode());
        assertEquals("prompts is empty", noPrompts.getStatus().getDescription());

        StatusRuntimeException negatives = call(EncodeRequest.newBuilder()
                .addPrompts("a kiln").addPrompts("a pot").addNegativePrompts("blurry"));
        assertEquals(Status.Code.INVALID_ARGUMENT, negatives.getStatus().getCode());
    }

    @Test
    void aValidRequestSaysTextEncodingIsNotInThisBuild() {
        StatusRuntimeException e = call(EncodeRequest.newBuilder()
                .setModelId(ModelPackageFixture.MODEL_ID).addPrompts("a kiln at dusk"));
        assertEquals(Status.Code.UNIMPLEMENTED, e.getStatus().getCode());
        assertTrue(e.getStatus().getDescription().startsWith("text encoding is not part of this encoder-service build"),
                e.getStatus().getDescription());
    }

    private StatusRuntimeException call(EncodeRequest.Builder request) {
        return assertThrows(StatusRuntimeException.class, () -> encoder.encode(request.build()));
    }
}
