package dev.kiln.gateway.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.pipeline.GeneratedImage;
import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.GenerationRequest;
import dev.kiln.pipeline.GenerationResult;
import dev.kiln.pipeline.GenerationSettings;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Runners as gateway processes over one PostgreSQL store: the real pipeline on the fixture model, runners
 * started and stopped the way gateways are.
 */
class JobRunnerTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static ModelCatalog catalog;
    static GenerationPipeline pipeline;
    TestDatabase db;
    PostgresJobStore store;
    final List<JobRunner> runners = new ArrayList<>();

    /** Runs a job's stored request ({@code prompt}, {@code steps}, {@code size}, {@code seed}) through the pipeline. */
    static final class FixtureWork implements JobRunner.Work {
        @Override
        public boolean ready() {
            return true;
        }

        @Override
        public JobRunner.Output run(Job job, DenoiseProgress progress, BooleanSupplier cancelled) {
            JsonNode r;
            try {
                r = JSON.readTree(job.request());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            int size = r.path("size").asInt();
            GenerationSettings s = pipeline.resolve(GenerationRequest.builder(r.path("prompt").asText()).size(size, size)
                    .steps(r.path("steps").asInt()).seed(r.path("seed").asLong()).build());
            GenerationResult out = pipeline.generate(s, progress, cancelled);
            List<JobResult.Image> images = new ArrayList<>();
            List<byte[]> pngs = new ArrayList<>();
            for (GeneratedImage img : out.images()) {
                images.add(new JobResult.Image(img.index(), img.seed(), s.prompt()));
                pngs.add(img.png());
            }
            return new JobRunner.Output(new JobResult(1, "url", images, List.of()), pngs);
        }

        @Override
        public byte[] preview(Job job, float[] latents) {
            return null;
        }

        @Override
        public JobError describe(RuntimeException failure) {
            return new JobError(500, failure.toString(), "server_error", null, null);
        }
    }

    @BeforeAll
    static void openPipeline() {
        catalog = ModelCatalog.shipped(Path.of(System.getProperty("kiln.models.dir", "../models")), "sd15-tiny-kiln",
                OnnxRuntimeOptions.cpu());
        pipeline = GenerationPipeline.embedded(catalog, DenoiseLoopOptions.defaults());
    }

    @AfterAll
    static void closePipeline() {
        pipeline.close();
        catalog.close();
    }

    @BeforeEach
    void openStore() {
        db = new TestDatabase();
        store = new PostgresJobStore(db.dataSource());
    }

    @AfterEach
    void stop() {
        runners.forEach(JobRunner::close);
        db.close();
    }

    JobRunner gateway(String instance) {
        JobRunner r = new JobRunner(store, new FixtureWork(), new JobEvents(), new JobRunner.Options(instance, 2, 10, 3,
                Duration.ofSeconds(30), Duration.ofMillis(100), Duration.ofMillis(100), Duration.ofDays(7)), Clock.systemUTC());
        runners.add(r);
        r.start();
        return r;
    }

    static Job job(String id, int steps) {
        return Job.queued(id, "{\"prompt\": \"a fox\", \"steps\": " + steps + ", \"size\": 512, \"seed\": 4}",
                "sd15-tiny-kiln", steps, Instant.now());
    }

    Job await(String id, Predicate<Job> condition) throws InterruptedException {
        Instant end = Instant.now().plusSeconds(60);
        while (Instant.now().isBefore(end)) {
            Job j = store.get(id).orElseThrow();
            if (condition.test(j)) {
                return j;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("job " + id + " never got there: " + store.get(id).orElseThrow());
    }

    @Test
    void stoppingAGatewayPutsItsRunningJobBackAndTheNextOneFinishesIt() throws Exception {
        JobRunner first = gateway("gw-a");
        first.submit(job("j", 60));
        await("j", j -> j.status() == JobStatus.RUNNING && j.step() >= 1);
        first.close();
        Job back = store.get("j").orElseThrow();
        assertEquals(JobStatus.QUEUED, back.status(), "a stopping gateway returns its job to the queue: " + back);
        assertEquals(0, back.attempts(), "an interrupted start does not count against the job");

        gateway("gw-b");
        Job done = await("j", j -> j.status().isFinal());
        assertEquals(JobStatus.SUCCEEDED, done.status(), done.toString());
        assertEquals(1, done.attempts());
        assertTrue(store.image("j", 0).length > 0);
    }

    @Test
    void aCancellationThroughAnotherGatewayReachesTheRunnerAtItsNextHeartbeat() throws Exception {
        gateway("gw-a");
        store.add(job("j", 150), 10);
        await("j", j -> j.status() == JobStatus.RUNNING && j.step() >= 1);
        // what DELETE /v1/jobs/j on another replica does: it only marks the row
        store.requestCancel("j");
        Job cancelled = await("j", j -> j.status().isFinal());
        assertEquals(JobStatus.CANCELLED, cancelled.status(), cancelled.toString());
        assertTrue(cancelled.step() < 150);
        assertEquals(0, pipeline.denoiser().queueDepth(), "the cancelled job left the denoiser");
    }
}
