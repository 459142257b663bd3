package dev.kiln.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.GenerationRequest;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The gateway in distributed mode, its stages behind gRPC on loopback ({@link LoopbackStages}): the same
 * images as in process, 503 at once while a stage is down, 429 with Retry-After while the denoiser is full.
 */
@QuarkusTest
@TestProfile(DistributedModeTest.Distributed.class)
class DistributedModeTest {
    public static class Distributed implements QuarkusTestProfile {
        @Override
        public List<TestResourceEntry> testResources() {
            return List.of(new TestResourceEntry(LoopbackStages.class));
        }
    }

    static String body(long seed, int steps, String size) {
        return "{\"prompt\": \"a red fox\", \"size\": \"" + size + "\", \"steps\": " + steps + ", \"seed\": " + seed
                + ", \"n\": 2, \"scheduler\": \"dpmpp_2m\", \"response_format\": \"b64_json\"}";
    }

    @Inject
    StageWiring stages;

    @BeforeEach
    void waitUntilReady() throws InterruptedException {
        Instant end = Instant.now().plus(Duration.ofSeconds(60));
        while (given().get("/q/health/ready").statusCode() != 200 && Instant.now().isBefore(end)) {
            Thread.sleep(100);
        }
        given().get("/q/health/ready").then().statusCode(200).body("checks.data.mode", hasItem("distributed"));
    }

    @Test
    void generatesTheSameBytesAsTheEmbeddedPipeline() {
        Response r = given().contentType(ContentType.JSON).body(body(77, 4, "64x64")).post("/v1/images/generations");
        r.then().statusCode(200);
        try (ModelCatalog catalog = ModelCatalog.scan(List.of(Path.of(System.getProperty("kiln.models.dir"), "fixtures")),
                "sd15-tiny-kiln", OnnxRuntimeOptions.cpu());
             GenerationPipeline embedded = GenerationPipeline.embedded(catalog, DenoiseLoopOptions.defaults())) {
            var expected = embedded.generate(GenerationRequest.builder("a red fox").size(64, 64).steps(4).seed(77L)
                    .count(2).scheduler("dpmpp_2m").build());
            for (int i = 0; i < 2; i++) {
                assertArrayEquals(expected.images().get(i).png(),
                        Base64.getDecoder().decode(r.<String>path("data[" + i + "].b64_json")));
            }
        }
        given().get("/q/metrics").then()
                .body(containsString("kiln_images_total{mode=\"distributed\",model=\"sd15-tiny-kiln\"}"));
        // the gateway resolved and served the request from the package's description: no session, no weights here
        given().get("/v1/models").then().statusCode(200);
        for (String id : stages.pipeline().catalog().ids()) {
            assertFalse(stages.pipeline().catalog().get(id).hasSessions(), id + " holds ONNX Runtime sessions in the gateway");
        }
    }

    @Test
    void aStageThatIsDownAnswers503AtOnceAndServiceResumesWhenItIsBack() throws Exception {
        LoopbackStages.stopEncoder();
        try {
            long t0 = System.nanoTime();
            given().contentType(ContentType.JSON).body(body(1, 2, "64x64")).post("/v1/images/generations").then()
                    .statusCode(503)
                    .header("Retry-After", "5")
                    .body("error.type", equalTo("server_error"))
                    .body("error.code", equalTo("unavailable"))
                    .body("error.message", containsString("encoder at " + "127.0.0.1:" + LoopbackStages.encoderPort));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            // the request deadline is kiln.request.timeout (120 s): an answer well before it is a fast failure, not a
            // hang; a wall-clock bound tighter than that would fail on a loaded machine
            assertTrue(ms < 30_000, "503 long before the request deadline, not by timing out: " + ms + " ms");
        } finally {
            LoopbackStages.startEncoder();
        }
        Instant end = Instant.now().plusSeconds(60);
        int status = 0;
        while (Instant.now().isBefore(end) && (status = given().contentType(ContentType.JSON).body(body(1, 2, "64x64"))
                .post("/v1/images/generations").statusCode()) != 200) {
            Thread.sleep(100);
        }
        assertTrue(status == 200, "served again once the encoder was back: " + status);
    }

    @Test
    void aFullDenoiserAnswers429WithRetryAfter() throws Exception {
        List<CompletableFuture<Integer>> slow = new ArrayList<>();
        for (int i = 0; i < LoopbackStages.MAX_QUEUED; i++) {
            long seed = 500 + i;
            slow.add(CompletableFuture.supplyAsync(() -> given().contentType(ContentType.JSON)
                    .body(body(seed, 150, "256x256")).post("/v1/images/generations").statusCode()));
        }
        Instant end = Instant.now().plusSeconds(60);
        while (LoopbackStages.denoiser.queueDepth() < LoopbackStages.MAX_QUEUED && Instant.now().isBefore(end)) {
            Thread.sleep(10);
        }
        given().contentType(ContentType.JSON).body(body(9, 2, "64x64")).post("/v1/images/generations").then()
                .statusCode(429)
                .header("Retry-After", "1")
                .body("error.type", equalTo("rate_limit_error"))
                .body("error.code", equalTo("overloaded"))
                .body("error.message", containsString("queue is full"));
        for (CompletableFuture<Integer> f : slow) {
            assertTrue(f.get(120, TimeUnit.SECONDS) == 200, "the requests that got in still finish");
        }
    }
}
