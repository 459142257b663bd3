package dev.kiln.gateway;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.quarkus.test.junit.QuarkusTest;
import io.restassured.http.ContentType;
import io.restassured.response.Response;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

@QuarkusTest
class ImagesResourceTest {
    static final String GOOD = "{\"prompt\": \"a red fox\", \"size\": \"64x64\", \"steps\": 3, \"seed\": 5, "
            + "\"response_format\": \"b64_json\"}";

    @BeforeEach
    void waitUntilReady() throws InterruptedException {
        Instant end = Instant.now().plus(Duration.ofSeconds(60));
        while (given().get("/q/health/ready").statusCode() != 200 && Instant.now().isBefore(end)) {
            Thread.sleep(100);
        }
        given().get("/q/health/ready").then().statusCode(200);
    }

    @Test
    void b64JsonAnswersAPng() throws Exception {
        String b64 = given().contentType(ContentType.JSON).body(GOOD).post("/v1/images/generations")
                .then().statusCode(200)
                .body("created", notNullValue())
                .body("data", hasSize(1))
                .body("data[0].revised_prompt", equalTo("a red fox"))
                .body("data[0].seed", equalTo(5))
                .body("data[0].url", nullValue())
                .extract().path("data[0].b64_json");
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(Base64.getDecoder().decode(b64)));
        assertEquals(64, img.getWidth());
    }

    @Test
    void urlIsServedByTheGateway() throws Exception {
        String body = "{\"prompt\": \"a red fox\", \"size\": \"64x64\", \"steps\": 3, \"seed\": 5, \"n\": 2,"
                + " \"negative_prompt\": \"blur\", \"guidance_scale\": 5, \"scheduler\": \"ddim\", \"model\": \"sd15-tiny-kiln\"}";
        Response r = given().contentType(ContentType.JSON).body(body).post("/v1/images/generations");
        r.then().statusCode(200).body("data", hasSize(2)).body("data[1].seed", equalTo(6));
        String url = r.path("data[0].url");
        byte[] png = given().get(URI.create(url).getPath()).then().statusCode(200).contentType("image/png")
                .extract().asByteArray();
        assertEquals(64, ImageIO.read(new ByteArrayInputStream(png)).getHeight());
    }

    @Test
    void teacherCanBeAskedForByFieldOrModelSuffix() {
        String field = given().contentType(ContentType.JSON).body(GOOD.replace("{", "{\"unet\": \"teacher\", "))
                .post("/v1/images/generations").then().statusCode(200).extract().path("data[0].b64_json");
        String suffix = given().contentType(ContentType.JSON)
                .body(GOOD.replace("{", "{\"model\": \"sd15-tiny-kiln:teacher\", "))
                .post("/v1/images/generations").then().statusCode(200).extract().path("data[0].b64_json");
        assertArrayEquals(Base64.getDecoder().decode(field), Base64.getDecoder().decode(suffix));
    }

    @Test
    void sameSeedSameBytes() {
        String a = given().contentType(ContentType.JSON).body(GOOD).post("/v1/images/generations").path("data[0].b64_json");
        String b = given().contentType(ContentType.JSON).body(GOOD.replace("\"seed\": 5", "\"seed\": 4, \"n\": 2"))
                .post("/v1/images/generations").path("data[1].b64_json");
        assertArrayEquals(Base64.getDecoder().decode(a), Base64.getDecoder().decode(b));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "empty prompt|{\"prompt\": \"\"}|400|prompt|must not be empty",
        "missing prompt|{\"size\": \"64x64\"}|400|prompt|must not be empty",
        "unknown field|{\"prompt\": \"x\", \"colour\": \"red\"}|400|colour|unknown field 'colour'",
        "wrong type|{\"prompt\": \"x\", \"n\": \"many\"}|400|n|wrong type",
        "bad size format|{\"prompt\": \"x\", \"size\": \"big\"}|400|size|must look like",
        "size not divisible|{\"prompt\": \"x\", \"size\": \"100x64\"}|400|size|multiple of 64",
        "steps out of range|{\"prompt\": \"x\", \"steps\": 500}|400|steps|between 1 and 150",
        "unknown scheduler|{\"prompt\": \"x\", \"scheduler\": \"plms\"}|400|scheduler|unknown scheduler",
        "bad response format|{\"prompt\": \"x\", \"response_format\": \"gif\"}|400|response_format|url or b64_json",
        "too many images|{\"prompt\": \"x\", \"n\": 11}|400|n|between 1 and 10",
        "unknown model|{\"prompt\": \"x\", \"model\": \"dall-e-3\"}|404|model|does not exist",
        "not json|{prompt|400||not valid JSON",
        "no student in this model|{\"prompt\": \"x\", \"unet\": \"student\"}|400|unet|has no student UNet",
        "student by model suffix|{\"prompt\": \"x\", \"model\": \"sd15-tiny-kiln:student\"}|400|unet|has no student UNet",
        "unknown unet|{\"prompt\": \"x\", \"unet\": \"pupil\"}|400|unet|teacher or student",
        "no consistency decoder|{\"prompt\": \"x\", \"decoder\": \"consistency\"}|400|decoder|offers: vae",
    })
    void badRequestGetsOpenAiErrorAndTheNextSucceeds(String name, String body, int status, String param, String message) {
        given().contentType(ContentType.JSON).body(body).post("/v1/images/generations")
                .then().statusCode(status)
                .body("error.message", containsString(message))
                .body("error.type", equalTo(status == 404 ? "invalid_request_error" : "invalid_request_error"))
                .body("error.param", param == null ? nullValue() : equalTo(param));
        given().contentType(ContentType.JSON).body(GOOD).post("/v1/images/generations").then().statusCode(200);
    }

    @Test
    void healthAndMetrics() {
        given().get("/q/health/live").then().statusCode(200);
        given().get("/q/health/ready").then().statusCode(200).body("checks.find { it.name == 'pipeline' }.data.default_model", equalTo("sd15-tiny-kiln"));
        given().contentType(ContentType.JSON).body(GOOD).post("/v1/images/generations").then().statusCode(200);
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("kiln_stage_queue_depth{stage=\"denoiser\"}"))
                .body(containsString("kiln_images_total{mode=\"embedded\",model=\"sd15-tiny-kiln\"}"));
    }

    @Test
    void playgroundIsServedAtTheRoot() {
        given().get("/").then().statusCode(200).contentType(containsString("text/html"))
                .body(containsString("Kiln playground"), containsString("v1/images/generations"), containsString("v1/jobs"),
                        containsString("EventSource"));
    }
}
