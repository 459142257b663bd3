package dev.kiln.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;
import static org.hamcrest.Matchers.oneOf;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@QuarkusTest
class JobsResourceTest {
    static final String SMALL = "{\"prompt\": \"a red fox\", \"size\": \"64x64\", \"steps\": 4, \"seed\": 11, \"n\": 2, "
            + "\"scheduler\": \"ddim\"}";
    /** Long enough on the fixture model to be caught mid-run (several seconds). */
    static final String LONG = "{\"prompt\": \"a slow fox\", \"size\": \"512x512\", \"steps\": 150, \"seed\": 3, \"n\": 4}";

    @TestHTTPResource("/")
    URL base;

    @BeforeEach
    void waitUntilReady() throws InterruptedException {
        Readiness.await();
    }

    static String submit(String body) {
        return given().contentType(ContentType.JSON).body(body).post("/v1/jobs").then().statusCode(202)
                .extract().path("id");
    }

    static JsonPath awaitFinal(String id) throws InterruptedException {
        Instant end = Instant.now().plus(Duration.ofSeconds(60));
        while (Instant.now().isBefore(end)) {
            JsonPath j = given().get("/v1/jobs/" + id).then().statusCode(200).extract().jsonPath();
            if (List.of("succeeded", "failed", "cancelled").contains(j.getString("status"))) {
                return j;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("job " + id + " did not finish in 60 s");
    }

    static void awaitStep(String id, int atLeast) throws InterruptedException {
        Instant end = Instant.now().plus(Duration.ofSeconds(30));
        while (Instant.now().isBefore(end)) {
            JsonPath j = given().get("/v1/jobs/" + id).jsonPath();
            if (j.getInt("progress.step") >= atLeast) {
                return;
            }
            assertEquals("running".equals(j.getString("status")) || "queued".equals(j.getString("status")), true,
                    "job ended before step " + atLeast + ": " + j.prettify());
            Thread.sleep(20);
        }
        throw new AssertionError("job " + id + " did not reach step " + atLeast);
    }

    @Test
    void jobRunsToTheSamePicturesAsTheSynchronousApi() throws Exception {
        Response accepted = given().contentType(ContentType.JSON).body(SMALL).post("/v1/jobs");
        accepted.then().statusCode(202)
                .header("Location", containsString("/v1/jobs/"))
                .body("object", equalTo("image.generation.job"))
                .body("status", oneOf("queued", "running", "succeeded"))
                .body("model", equalTo("sd15-tiny-kiln"))
                .body("progress.total", equalTo(4))
                .body("created_at", notNullValue());
        String id = accepted.path("id");
        assertTrue(accepted.header("Location").endsWith("/v1/jobs/" + id));

        JsonPath done = awaitFinal(id);
        assertEquals("succeeded", done.getString("status"), done.prettify());
        assertEquals(4, done.getInt("progress.step"));
        assertEquals(2, done.getList("result.data").size());
        assertEquals(12, done.getLong("result.data[1].seed"));
        assertEquals("a red fox", done.getString("result.data[0].revised_prompt"));
        assertNotNull(done.getString("finished_at"));

        String sync = given().contentType(ContentType.JSON).body(SMALL.replace("}", ", \"response_format\": \"b64_json\"}"))
                .post("/v1/images/generations").then().statusCode(200).extract().path("data[1].b64_json");
        byte[] fromJob = given().get(URI.create(done.getString("result.data[1].url")).getPath())
                .then().statusCode(200).contentType("image/png").extract().asByteArray();
        assertArrayEquals(Base64.getDecoder().decode(sync), fromJob);
    }

    @Test
    void b64JsonJobCarriesThePicturesInline() throws Exception {
        String id = submit("{\"prompt\": \"a blue fox\", \"size\": \"64x64\", \"steps\": 2, \"response_format\": \"b64_json\"}");
        JsonPath done = awaitFinal(id);
        assertEquals("succeeded", done.getString("status"));
        assertEquals(null, done.getString("result.data[0].url"));
        byte[] png = Base64.getDecoder().decode(done.getString("result.data[0].b64_json"));
        assertEquals(64, ImageIO.read(new ByteArrayInputStream(png)).getWidth());
        // a random seed is fixed at submission and reported, so the picture can be made again
        long seed = done.getLong("result.data[0].seed");
        String again = given().contentType(ContentType.JSON).body("{\"prompt\": \"a blue fox\", \"size\": \"64x64\", "
                + "\"steps\": 2, \"response_format\": \"b64_json\", \"seed\": " + seed + "}")
                .post("/v1/images/generations").then().statusCode(200).extract().path("data[0].b64_json");
        assertArrayEquals(png, Base64.getDecoder().decode(again));
    }

    @Test
    void eventsComeInOrderWithPreviewsAndEndWithDone() throws Exception {
        String id = submit(LONG.replace("\"steps\": 150", "\"steps\": 30").replace("\"n\": 4", "\"n\": 1"));
        HttpResponse<java.io.InputStream> stream = ServerSentEvents.open(URI.create(base + "v1/jobs/" + id + "/events?preview=true"));
        assertEquals(200, stream.statusCode());
        assertTrue(stream.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"));
        List<ServerSentEvents.Event> events = ServerSentEvents.readAll(stream);

        assertTrue(List.of("queued", "running", "step").contains(events.get(0).name()), "first event: " + events.get(0));
        ServerSentEvents.Event last = events.get(events.size() - 1);
        assertEquals("done", last.name(), "events: " + events.stream().map(ServerSentEvents.Event::name).toList());
        assertEquals("succeeded", last.data().path("status").asText());
        assertEquals(1, last.data().path("result").path("data").size());
        int previous = -1;
        int previews = 0;
        boolean sawRunning = false;
        for (ServerSentEvents.Event e : events.subList(0, events.size() - 1)) {
            switch (e.name()) {
                case "queued" -> assertTrue(previous < 0 && !sawRunning, "queued after the job started");
                case "running" -> sawRunning = true;
                case "step" -> {
                    int step = e.data().path("step").asInt();
                    assertTrue(step > previous, "step " + step + " after " + previous);
                    assertEquals(30, e.data().path("total").asInt());
                    previous = step;
                    if (e.data().has("preview")) {
                        String uri = e.data().path("preview").asText();
                        assertTrue(uri.startsWith("data:image/png;base64,"));
                        byte[] png = Base64.getDecoder().decode(uri.substring(uri.indexOf(',') + 1));
                        assertTrue(ImageIO.read(new ByteArrayInputStream(png)).getWidth() <= 128);
                        previews++;
                    }
                }
                default -> throw new AssertionError("unexpected event " + e.name() + " before the end");
            }
        }
        assertTrue(previous > 0, "no step events");
        assertTrue(previews > 0, "no previews");

        // a client arriving after the end learns the outcome at once
        List<ServerSentEvents.Event> late = ServerSentEvents.readAll(
                ServerSentEvents.open(URI.create(base + "v1/jobs/" + id + "/events")));
        assertEquals(1, late.size());
        assertEquals("done", late.get(0).name());
    }

    @Test
    void cancellingARunningJobStopsItMidRun() throws Exception {
        String id = submit(LONG);
        awaitStep(id, 1);
        JsonPath cancelled = given().delete("/v1/jobs/" + id).then().statusCode(200).extract().jsonPath();
        assertEquals("cancelled", cancelled.getString("status"), cancelled.prettify());
        assertTrue(cancelled.getInt("progress.step") < 150, "ran to the end: " + cancelled.prettify());
        assertEquals(null, cancelled.getString("result"));
        // cancelling again is harmless; the pictures never exist
        given().delete("/v1/jobs/" + id).then().statusCode(200).body("status", equalTo("cancelled"));
        given().get("/v1/jobs/" + id + "/images/0.png").then().statusCode(404).body("error.message", containsString("cancelled"));
        // the next job runs to the end
        assertEquals("succeeded", awaitFinal(submit(SMALL)).getString("status"));
    }

    @Test
    void finishedJobsCannotBeCancelled() throws Exception {
        String id = submit(SMALL);
        awaitFinal(id);
        given().delete("/v1/jobs/" + id).then().statusCode(409)
                .body("error.code", equalTo("job_finished"))
                .body("error.message", containsString("already succeeded"));
        given().get("/v1/jobs/" + id).then().body("status", equalTo("succeeded"));
    }

    @Test
    void jobsAreListedNewestFirstAPageAtATime() throws Exception {
        String a = submit(SMALL.replace("\"seed\": 11", "\"seed\": 21"));
        String b = submit(SMALL.replace("\"seed\": 11", "\"seed\": 22").replace("\"n\": 2", "\"n\": 1")
                .replace("}", ", \"response_format\": \"b64_json\"}"));
        String c = submit(SMALL.replace("\"seed\": 11", "\"seed\": 23"));
        for (String id : List.of(a, b, c)) {
            awaitFinal(id);
        }

        JsonPath first = given().get("/v1/jobs?limit=2").then().statusCode(200).extract().jsonPath();
        assertEquals("list", first.getString("object"));
        assertEquals(List.of(c, b), first.getList("data.id"));
        assertEquals(b, first.getString("last_id"));
        assertEquals(true, first.getBoolean("has_more"));
        // a list links pictures even for b64_json jobs, so a page never carries every job's PNGs
        assertEquals("succeeded", first.getString("data[1].status"));
        assertTrue(first.getString("data[1].result.data[0].url").endsWith("/v1/jobs/" + b + "/images/0.png"),
                first.prettify());
        assertNull(first.get("data[1].result.data[0].b64_json"));
        byte[] linked = given().get("/v1/jobs/" + b + "/images/0.png").then().statusCode(200).contentType("image/png")
                .extract().asByteArray();
        assertArrayEquals(Base64.getDecoder().decode(
                given().get("/v1/jobs/" + b).jsonPath().getString("result.data[0].b64_json")), linked);

        JsonPath next = given().get("/v1/jobs?limit=2&before=" + b).then().statusCode(200).extract().jsonPath();
        assertEquals(a, next.getString("data[0].id"));

        List<String> succeeded = given().get("/v1/jobs?status=succeeded&limit=100").then().statusCode(200)
                .extract().jsonPath().getList("data.status");
        assertTrue(succeeded.size() >= 3 && succeeded.stream().allMatch("succeeded"::equals), succeeded.toString());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "unknown status|status=done|status|not one of queued, running, succeeded, failed, cancelled",
        "limit zero|limit=0|limit|between 1 and 100",
        "limit too big|limit=101|limit|between 1 and 100",
        "cursor naming no job|before=no-such-job|before|names no job",
    })
    void badListQueriesAre400InOpenAiShape(String name, String query, String param, String message) {
        given().get("/v1/jobs?" + query).then().statusCode(400)
                .body("error.type", equalTo("invalid_request_error"))
                .body("error.param", equalTo(param))
                .body("error.message", containsString(message));
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "GET, /v1/jobs/no-such-job",
        "DELETE, /v1/jobs/no-such-job",
        "GET, /v1/jobs/no-such-job/events",
        "GET, /v1/jobs/no-such-job/images/0.png",
        "GET, /v1/models/dall-e-3",
    })
    void unknownThingsAre404InOpenAiShape(String method, String path) {
        given().accept("*/*").request(method, path).then().statusCode(404)
                .contentType(ContentType.JSON)
                .body("error.message", notNullValue())
                .body("error.type", equalTo("invalid_request_error"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "empty prompt|{\"prompt\": \"\"}|400|prompt|must not be empty",
        "unknown field|{\"prompt\": \"x\", \"colour\": \"red\"}|400|colour|unknown field 'colour'",
        "size not divisible|{\"prompt\": \"x\", \"size\": \"100x64\"}|400|size|multiple of 64",
        "steps out of range|{\"prompt\": \"x\", \"steps\": 500}|400|steps|between 1 and 150",
        "bad response format|{\"prompt\": \"x\", \"response_format\": \"gif\"}|400|response_format|url or b64_json",
        "unknown model|{\"prompt\": \"x\", \"model\": \"dall-e-3\"}|404|model|does not exist",
        "not json|{prompt|400||not valid JSON",
    })
    void badSubmissionsAreRefusedAtOnce(String name, String body, int status, String param, String message) {
        given().contentType(ContentType.JSON).body(body).post("/v1/jobs")
                .then().statusCode(status)
                .body("error.message", containsString(message))
                .body("error.type", equalTo("invalid_request_error"))
                .body("error.param", param == null ? nullValue() : equalTo(param));
    }

    @Test
    void modelsAreListedInOpenAiShapeWithKilnDetails() {
        given().get("/v1/models").then().statusCode(200)
                .body("object", equalTo("list"))
                .body("data.id", hasItem("sd15-tiny-kiln"))
                .body("data.object", hasItem("model"))
                .body("data.find { it.id == 'sd15-tiny-kiln' }.kiln.default", equalTo(true))
                .body("data.find { it.id == 'sd15-tiny-kiln' }.owned_by", equalTo("kiln"));
        // the fixture's kiln.json: 64 px, multiples of 64, 20 steps of euler at guidance 7.5
        given().get("/v1/models/sd15-tiny-kiln").then().statusCode(200)
                .body("id", equalTo("sd15-tiny-kiln"))
                .body("kiln.sizes.default", equalTo("64x64"))
                .body("kiln.sizes.multiple", equalTo(64))
                .body("kiln.defaults.steps", equalTo(20))
                .body("kiln.defaults.scheduler", equalTo("euler"))
                .body("kiln.defaults.guidance_scale", equalTo(7.5f))
                .body("kiln.schedulers", hasItem("dpmpp_2m"))
                .body("kiln.unets", hasItem("teacher"))
                .body("kiln.decoders", hasItem("vae"))
                .body("kiln.defaults.unet", equalTo("teacher"))
                .body("kiln.max_images", equalTo(10));
    }

    @Test
    void openApiDescribesTheApi() {
        String doc = given().accept("application/json").get("/q/openapi?format=json").then().statusCode(200).extract().asString();
        for (String path : List.of("/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/events", "/v1/jobs/{id}/images/{index}.png",
                "/v1/models", "/v1/images/generations")) {
            assertTrue(doc.contains("\"" + path + "\""), "no " + path + " in the OpenAPI document");
        }
        given().get("/q/openapi").then().statusCode(200).body(startsWith("---"));
    }

    @Test
    void jobMetricsAreExported() {
        given().get("/q/metrics").then().statusCode(200).body(containsString("kiln_stage_queue_depth{stage=\"jobs\"}"));
    }
}
