package dev.kiln.gateway;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.gateway.jobs.Job;
import dev.kiln.gateway.jobs.JobResult;
import dev.kiln.gateway.jobs.PostgresJobStore;
import dev.kiln.gateway.jobs.TestDatabase;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import java.net.URI;
import java.net.URL;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The jobs API in distributed mode: stages over gRPC ({@link LoopbackStages}), jobs in the local PostgreSQL,
 * a schema of this run's own. Before the
 * gateway starts, the database is left as a gateway that crashed would leave it; the gateway must take
 * every accepted job back.
 */
@QuarkusTest
@TestProfile(PostgresJobsTest.Distributed.class)
class PostgresJobsTest {
    static final String INSTANCE = "gateway-under-test";
    static final String REQUEST = "{\"prompt\": \"a fox left behind\", \"size\": \"64x64\", \"steps\": 3, \"seed\": %d, "
            + "\"response_format\": \"b64_json\"}";

    /** Jobs stores in PostgreSQL, with a database made and filled by {@link CrashedGateway}. */
    public static class Distributed implements QuarkusTestProfile {
        @Override
        public List<TestResourceEntry> testResources() {
            // as deployed: the stages behind gRPC on loopback, the jobs in PostgreSQL
            return List.of(new TestResourceEntry(CrashedGateway.class), new TestResourceEntry(LoopbackStages.class));
        }
    }

    /**
     * A fresh schema holding what a gateway named {@link #INSTANCE} left when it died: a queued job, a job it
     * was running, a job of another gateway silent for an hour, a job already interrupted three times, and a
     * finished one.
     */
    public static class CrashedGateway implements QuarkusTestResourceLifecycleManager {
        TestDatabase db;

        @Override
        public Map<String, String> start() {
            db = new TestDatabase();
            PostgresJobStore store = new PostgresJobStore(db.dataSource());
            Instant t0 = Instant.now().minusSeconds(600);
            String[] ids = {"queued", "running", "elsewhere", "tired", "finished"};
            for (int i = 0; i < ids.length; i++) {
                store.add(Job.queued(ids[i], String.format(REQUEST, 100 + i), "sd15-tiny-kiln", 3, t0.plusSeconds(i)), 100);
            }
            db.execute("UPDATE kiln_job SET status = 'running', owner = '" + INSTANCE + "', started_at = now(), "
                    + "heartbeat_at = now(), attempts = 1 WHERE id IN ('running', 'finished')");
            db.execute("UPDATE kiln_job SET status = 'running', owner = 'gone', started_at = now(), "
                    + "heartbeat_at = now() - interval '1 hour', attempts = 1 WHERE id = 'elsewhere'");
            db.execute("UPDATE kiln_job SET status = 'running', owner = '" + INSTANCE + "', started_at = now(), "
                    + "heartbeat_at = now(), attempts = 3 WHERE id = 'tired'");
            store.succeed("finished", new JobResult(1, "b64_json", List.of(new JobResult.Image(0, 104, "kept")), List.of()),
                    List.of(new byte[] {42}));
            return Map.of(
                    "kiln.jobs.store", "postgresql",
                    "kiln.jobs.instance", INSTANCE,
                    "quarkus.datasource.active", "true",
                    "quarkus.datasource.jdbc.url", db.url(),
                    "quarkus.datasource.username", TestDatabase.USER,
                    "quarkus.flyway.schemas", db.schema());
        }

        @Override
        public void stop() {
            if (db != null) {
                db.close();
            }
        }
    }

    @TestHTTPResource("/")
    URL base;

    @BeforeEach
    void waitUntilReady() throws InterruptedException {
        Readiness.await();
    }

    static byte[] synchronous(long seed) {
        String b64 = given().contentType(ContentType.JSON).body(String.format(REQUEST, seed)).post("/v1/images/generations")
                .then().statusCode(200).extract().path("data[0].b64_json");
        return Base64.getDecoder().decode(b64);
    }

    @Test
    void restartLosesNoAcceptedJob() throws Exception {
        // queued and interrupted jobs run again, to the pictures their stored request asks for
        for (String id : List.of("queued", "running", "elsewhere")) {
            JsonPath j = JobsResourceTest.awaitFinal(id);
            assertEquals("succeeded", j.getString("status"), id + ": " + j.prettify());
            long seed = j.getLong("result.data[0].seed");
            assertArrayEquals(synchronous(seed), Base64.getDecoder().decode(j.getString("result.data[0].b64_json")), id);
        }
        assertEquals(100, JobsResourceTest.awaitFinal("queued").getLong("result.data[0].seed"));
        // one that was already interrupted as often as allowed fails, saying why
        JsonPath tired = JobsResourceTest.awaitFinal("tired");
        assertEquals("failed", tired.getString("status"));
        assertEquals("interrupted", tired.getString("error.code"));
        assertTrue(tired.getString("error.message").contains("interrupted 3 times"), tired.getString("error.message"));
        // a finished one stays as it was
        JsonPath finished = given().get("/v1/jobs/finished").then().statusCode(200).extract().jsonPath();
        assertEquals("succeeded", finished.getString("status"));
        assertEquals("kept", finished.getString("result.data[0].revised_prompt"));
        assertArrayEquals(new byte[] {42}, Base64.getDecoder().decode(finished.getString("result.data[0].b64_json")));
    }

    @Test
    void jobLifecycleThroughPostgres() throws Exception {
        String id = JobsResourceTest.submit("{\"prompt\": \"a fox in the database\", \"size\": \"64x64\", \"steps\": 4, \"seed\": 9}");
        JsonPath done = JobsResourceTest.awaitFinal(id);
        assertEquals("succeeded", done.getString("status"), done.prettify());
        assertEquals(4, done.getInt("progress.step"));
        byte[] png = given().get(URI.create(done.getString("result.data[0].url")).getPath())
                .then().statusCode(200).contentType("image/png").extract().asByteArray();
        String b64 = given().contentType(ContentType.JSON).body("{\"prompt\": \"a fox in the database\", \"size\": \"64x64\", "
                + "\"steps\": 4, \"seed\": 9, \"response_format\": \"b64_json\"}").post("/v1/images/generations")
                .then().statusCode(200).extract().path("data[0].b64_json");
        assertArrayEquals(Base64.getDecoder().decode(b64), png);
    }

    @Test
    void eventsFollowAJobRunThroughTheGrpcStages() throws Exception {
        String id = JobsResourceTest.submit("{\"prompt\": \"a fox on the wire\", \"size\": \"512x512\", \"steps\": 80}");
        List<ServerSentEvents.Event> events = ServerSentEvents.readAll(ServerSentEvents.open(
                URI.create(base + "v1/jobs/" + id + "/events?preview=true")));
        assertEquals("done", events.get(events.size() - 1).name(), events.toString());
        assertTrue(events.stream().anyMatch(e -> "step".equals(e.name())), "no step events: " + events);
    }

    @Test
    void cancellingARunningJobInPostgres() throws Exception {
        String id = JobsResourceTest.submit(JobsResourceTest.LONG);
        JobsResourceTest.awaitStep(id, 1);
        given().delete("/v1/jobs/" + id).then().statusCode(200);
        JsonPath j = JobsResourceTest.awaitFinal(id);
        assertEquals("cancelled", j.getString("status"));
        assertTrue(j.getInt("progress.step") < 150);
        assertEquals("succeeded", JobsResourceTest.awaitFinal(
                JobsResourceTest.submit("{\"prompt\": \"after\", \"size\": \"64x64\", \"steps\": 2}")).getString("status"));
    }
}
