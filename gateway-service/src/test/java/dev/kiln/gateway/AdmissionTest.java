package dev.kiln.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import io.restassured.http.ContentType;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Bounded queues: a denoiser with room for one request, one job worker and one waiting job. */
@QuarkusTest
@TestProfile(AdmissionTest.Tight.class)
class AdmissionTest {

    public static class Tight implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("kiln.denoiser.max-queued", "1", "kiln.jobs.workers", "1", "kiln.jobs.max-queued", "1");
        }
    }

    @BeforeEach
    void waitUntilReady() throws InterruptedException {
        Readiness.await();
    }

    @Test
    void fullQueuesAnswer429WithRetryAfterAndCancellingFreesTheSlot() throws Exception {
        String running = JobsResourceTest.submit(JobsResourceTest.LONG);
        JobsResourceTest.awaitStep(running, 1);

        // the denoiser is full: the synchronous API is refused at once, not queued without bound
        given().contentType(ContentType.JSON).body(JobsResourceTest.SMALL).post("/v1/images/generations")
                .then().statusCode(429)
                .header("Retry-After", notNullValue())
                .body("error.type", equalTo("rate_limit_error"))
                .body("error.code", equalTo("overloaded"))
                .body("error.message", containsString("queue is full"));

        // one job may wait; the next is refused
        String waiting = JobsResourceTest.submit(JobsResourceTest.SMALL);
        given().contentType(ContentType.JSON).body(JobsResourceTest.SMALL).post("/v1/jobs")
                .then().statusCode(429)
                .header("Retry-After", notNullValue())
                .body("error.type", equalTo("rate_limit_error"))
                .body("error.message", containsString("job queue is full"));
        given().get("/q/metrics").then()
                .body(containsString("kiln_requests_rejected_total{reason=\"queue_full\",stage=\"jobs\"} 1.0"));

        // cancelling the running job frees its place: the waiting job and a synchronous request both finish
        given().delete("/v1/jobs/" + running).then().statusCode(200).body("status", equalTo("cancelled"));
        assertEquals("succeeded", JobsResourceTest.awaitFinal(waiting).getString("status"));
        given().contentType(ContentType.JSON).body(JobsResourceTest.SMALL).post("/v1/images/generations")
                .then().statusCode(200);
    }
}
