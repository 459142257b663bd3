package dev.kiln.system;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.GenerationRequest;
import dev.kiln.pipeline.GenerationResult;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.stage.Conditioning;
import dev.kiln.pipeline.stage.DenoiseSpec;
import dev.kiln.pipeline.stage.EncodeSpec;
import dev.kiln.protocol.client.GrpcDenoiserStage;
import dev.kiln.protocol.client.GrpcEncoderStage;
import dev.kiln.protocol.client.StageChannel;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Kiln as its users run it: the encoder, denoiser and decoder services and the gateway in distributed mode,
 * each its own JVM started from the packaged application, talking gRPC on loopback.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MultiProcessIT {
    static final String MODEL = "sd15-tiny-diffusers";
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(20);
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    static final String DATABASE = "jdbc:postgresql://127.0.0.1:5432/test";
    static final String SCHEMA = "kiln_system_" + java.util.UUID.randomUUID().toString().replace("-", "").substring(0, 10);

    static ServiceProcess encoder;
    static ServiceProcess denoiser;
    static ServiceProcess decoder;
    static ServiceProcess gateway;
    static ModelCatalog catalog;
    static GenerationPipeline reference;

    @BeforeAll
    static void startServices() throws Exception {
        Path models = Path.of(System.getProperty("kiln.models.dir")).toAbsolutePath();
        Map<String, String> stage = Map.of("kiln.models.dir", models.toString(), "kiln.model.default", MODEL,
                "kiln.onnx.threads", "1");
        encoder = new ServiceProcess("encoder", "encoder-service", stage);
        denoiser = new ServiceProcess("denoiser", "denoiser-service", Map.of("kiln.models.dir", models.toString(),
                "kiln.model.default", MODEL, "kiln.onnx.threads", "1", "kiln.denoiser.max-queued", "64"));
        decoder = new ServiceProcess("decoder", "decoder-service", stage);
        for (ServiceProcess p : List.of(encoder, denoiser, decoder)) {
            p.start();
        }
        // the distributed profile keeps jobs in PostgreSQL; this run gets a schema of its own
        Map<String, String> gatewayConfig = new java.util.HashMap<>(Map.of("kiln.mode", "distributed",
                "kiln.models.dir", models.toString(), "kiln.model.default", MODEL,
                "kiln.encoder.address", encoder.grpcAddress(), "kiln.denoiser.address", denoiser.grpcAddress(),
                "kiln.decoder.address", decoder.grpcAddress(), "kiln.request.timeout", REQUEST_TIMEOUT.toSeconds() + "s",
                "quarkus.profile", "distributed"));
        gatewayConfig.put("quarkus.datasource.jdbc.url", DATABASE + "?currentSchema=" + SCHEMA);
        gatewayConfig.put("quarkus.flyway.schemas", SCHEMA);
        gateway = new ServiceProcess("gateway", "gateway-service", gatewayConfig);
        gateway.start();
        catalog = ModelCatalog.scan(List.of(models.resolve("fixtures")), MODEL, OnnxRuntimeOptions.cpu().withThreads(1));
        reference = GenerationPipeline.embedded(catalog, DenoiseLoopOptions.defaults());
        for (ServiceProcess p : List.of(encoder, denoiser, decoder, gateway)) {
            p.awaitReady(Duration.ofSeconds(120));
        }
    }

    @AfterAll
    static void stopServices() throws Exception {
        for (ServiceProcess p : new ServiceProcess[] {gateway, encoder, denoiser, decoder}) {
            if (p != null) {
                p.close();
            }
        }
        if (reference != null) {
            reference.close();
            catalog.close();
        }
        try (java.sql.Connection c = java.sql.DriverManager.getConnection(DATABASE, "postgres", "");
             java.sql.Statement s = c.createStatement()) {
            s.execute("DROP SCHEMA IF EXISTS " + SCHEMA + " CASCADE");
        }
    }

    static String body(long seed, int steps, String scheduler, int n) {
        return "{\"prompt\": \"a kiln at dusk, seed " + seed + "\", \"size\": \"64x64\", \"steps\": " + steps
                + ", \"scheduler\": \"" + scheduler + "\", \"seed\": " + seed + ", \"n\": " + n
                + ", \"response_format\": \"b64_json\"}";
    }

    static HttpResponse<String> post(String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(gateway.http() + "/v1/images/generations"))
                        .header("Content-Type", "application/json").timeout(REQUEST_TIMEOUT.plusSeconds(10))
                        .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    @Order(1)
    void thirtyTwoConcurrentMixedRequestsGiveTheImagesOfTheEmbeddedPipeline() throws Exception {
        String[] schedulers = {"euler", "ddim", "dpmpp_2m", "lcm"};
        ExecutorService pool = Executors.newFixedThreadPool(32);
        try {
            List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                String b = body(1000 + i * 7L, 2 + i % 5, schedulers[i % 4], 1 + i % 2);
                answers.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return post(b);
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                }, pool));
            }
            for (int i = 0; i < 32; i++) {
                HttpResponse<String> r = answers.get(i).get(120, TimeUnit.SECONDS);
                assertEquals(200, r.statusCode(), r.body());
                long seed = 1000 + i * 7L;
                GenerationResult expected = reference.generate(GenerationRequest.builder("a kiln at dusk, seed " + seed)
                        .model(MODEL).size(64, 64).steps(2 + i % 5).scheduler(schedulers[i % 4]).seed(seed)
                        .count(1 + i % 2).build());
                JsonNode data = JSON.readTree(r.body()).get("data");
                assertEquals(expected.images().size(), data.size());
                for (int k = 0; k < data.size(); k++) {
                    assertArrayEquals(expected.images().get(k).png(), Base64.getDecoder().decode(data.get(k).get("b64_json").asText()),
                            "request " + i + " image " + k);
                }
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(0.0, denoiser.metric("kiln_stage_queue_depth{stage=\"denoiser\"}"));
    }

    @Test
    @Order(2)
    void cancellingARequestMidRunFreesItsPlaceInTheDenoiser() throws Exception {
        Conditioning c;
        try (StageChannel enc = new StageChannel("encoder", encoder.grpcAddress(), Duration.ofSeconds(10))) {
            c = new GrpcEncoderStage(enc).encode(new EncodeSpec(MODEL, "a slow kiln", "", true));
        }
        try (StageChannel den = new StageChannel("denoiser", denoiser.grpcAddress(), Duration.ofSeconds(60));
             GrpcDenoiserStage stage = new GrpcDenoiserStage(den)) {
            AtomicBoolean cancel = new AtomicBoolean();
            AtomicInteger lastStep = new AtomicInteger();
            CountDownLatch running = new CountDownLatch(3);
            CompletableFuture<List<float[]>> slow = stage.denoise(new DenoiseSpec(MODEL, c, 256, 256, 150, "euler", 7.5,
                    new long[] {5}, null, 1.0), (step, total, l) -> {
                        lastStep.set(step);
                        running.countDown();
                    }, cancel::get);
            assertTrue(running.await(30, TimeUnit.SECONDS), "the request is being denoised");
            assertEquals(1.0, denoiser.metric("kiln_stage_queue_depth{stage=\"denoiser\"}"));
            cancel.set(true);
            assertThrows(CancellationException.class, () -> slow.get(10, TimeUnit.SECONDS));
            Instant end = Instant.now().plusSeconds(5);
            while (denoiser.metric("kiln_stage_queue_depth{stage=\"denoiser\"}") != 0.0 && Instant.now().isBefore(end)) {
                Thread.sleep(20);
            }
            assertEquals(0.0, denoiser.metric("kiln_stage_queue_depth{stage=\"denoiser\"}"), "the place is free");
            int stoppedAt = lastStep.get();
            assertTrue(stoppedAt < 150, "stopped mid-run at step " + stoppedAt);
            assertEquals(200, post(body(7, 2, "euler", 1)).statusCode(), "and serves the next request");
        }
    }

    static HttpResponse<String> send(String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(gateway.http() + path)).timeout(Duration.ofSeconds(10))
                .header("Content-Type", "application/json");
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    @Order(3)
    void deletingAJobMidRunFreesItsPlaceInTheDenoiser() throws Exception {
        HttpResponse<String> created = send("POST", "/v1/jobs", "{\"prompt\": \"a slow kiln\", \"size\": \"256x256\", "
                + "\"steps\": 150, \"seed\": 11}");
        assertEquals(202, created.statusCode(), created.body());
        String id = JSON.readTree(created.body()).get("id").asText();
        Instant end = Instant.now().plusSeconds(30);
        JsonNode job = JSON.readTree(send("GET", "/v1/jobs/" + id, null).body());
        while (Instant.now().isBefore(end) && (job.path("progress").path("step").asInt() < 2)) {
            Thread.sleep(50);
            job = JSON.readTree(send("GET", "/v1/jobs/" + id, null).body());
        }
        assertEquals("running", job.get("status").asText(), job.toString());
        assertEquals(1.0, denoiser.metric("kiln_stage_queue_depth{stage=\"denoiser\"}"), "the job holds a place");

        HttpResponse<String> deleted = send("DELETE", "/v1/jobs/" + id, null);
        assertEquals(200, deleted.statusCode(), deleted.body());
        end = Instant.now().plusSeconds(5);
        while (denoiser.metric("kiln_stage_queue_depth{stage=\"denoiser\"}") != 0.0 && Instant.now().isBefore(end)) {
            Thread.sleep(20);
        }
        assertEquals(0.0, denoiser.metric("kiln_stage_queue_depth{stage=\"denoiser\"}"), "the place is free");
        end = Instant.now().plusSeconds(5);
        while (!job.get("status").asText().equals("cancelled") && Instant.now().isBefore(end)) {
            Thread.sleep(50);
            job = JSON.readTree(send("GET", "/v1/jobs/" + id, null).body());
        }
        assertEquals("cancelled", job.get("status").asText(), job.toString());
        assertTrue(job.path("progress").path("step").asInt() < 150, "stopped mid-run: " + job);
    }

    @Test
    @Order(4)
    void killingTheEncoderUnderLoadFailsRequestsFastWith503AndRestartingItResumesService() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        AtomicBoolean stop = new AtomicBoolean();
        List<long[]> outcomes = java.util.Collections.synchronizedList(new ArrayList<>());
        List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        try {
            for (int t = 0; t < 8; t++) {
                int client = t;
                pool.submit(() -> {
                    long seed = 5000 + client * 1000L;
                    while (!stop.get()) {
                        long t0 = System.nanoTime();
                        try {
                            HttpResponse<String> r = post(body(seed++, 4, "euler", 1));
                            outcomes.add(new long[] {r.statusCode(), (System.nanoTime() - t0) / 1_000_000});
                            if (r.statusCode() == 503) {
                                failures.add(r.body());
                            }
                        } catch (Exception e) {
                            outcomes.add(new long[] {-1, (System.nanoTime() - t0) / 1_000_000});
                        }
                    }
                    return null;
                });
            }
            Thread.sleep(1500);
            encoder.kill();
            int before = outcomes.size();
            Thread.sleep(3000);
            List<long[]> whileDown = new ArrayList<>(outcomes.subList(before, outcomes.size()));
            assertTrue(whileDown.size() >= 8, "requests kept being answered while the encoder was down: " + whileDown.size());
            for (long[] o : whileDown) {
                assertTrue(o[0] == 503 || o[0] == 200, "status " + o[0]);
                assertTrue(o[1] < REQUEST_TIMEOUT.toMillis(), "answered within the deadline: " + o[1] + " ms");
            }
            assertTrue(whileDown.stream().filter(o -> o[0] == 503).allMatch(o -> o[1] < 3000), "503s came fast");
            JsonNode error = JSON.readTree(failures.get(failures.size() - 1)).get("error");
            assertEquals("unavailable", error.get("code").asText());
            assertEquals("server_error", error.get("type").asText());
            assertTrue(error.get("message").asText().contains("encoder at " + encoder.grpcAddress()), error.toString());

            encoder.start();
            encoder.awaitReady(Duration.ofSeconds(60));
            Instant end = Instant.now().plusSeconds(10);
            int recovered = outcomes.size();
            while (Instant.now().isBefore(end)
                    && outcomes.subList(recovered, outcomes.size()).stream().noneMatch(o -> o[0] == 200)) {
                Thread.sleep(100);
            }
            assertTrue(outcomes.subList(recovered, outcomes.size()).stream().anyMatch(o -> o[0] == 200),
                    "service resumed after the encoder came back");
        } finally {
            stop.set(true);
            pool.shutdown();
            pool.awaitTermination(60, TimeUnit.SECONDS);
        }
        assertEquals(200, post(body(9, 3, "ddim", 2)).statusCode());
        assertTrue(outcomes.stream().allMatch(o -> o[1] < REQUEST_TIMEOUT.toMillis()), "no request hung past its deadline");
    }
}
