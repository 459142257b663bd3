package dev.kiln.training;

import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;

/** The training service as a probe and a scraper see it when no model package is configured in place. */
@QuarkusTest
class TrainingServiceTest {

    @Test
    void liveButNotReadyWithoutAModel() throws InterruptedException {
        given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
        // models load in the background; wait for the attempt to end
        for (int i = 0; i < 100 && given().get("/q/health/ready").asString().contains("models are loading"); i++) {
            Thread.sleep(50);
        }
        given().get("/q/health/ready").then()
                .statusCode(503)
                .body("status", equalTo("DOWN"))
                .body("checks.name", hasItem("training model"))
                .body("checks.data.reason", hasItem("model not loaded: "
                        + Path.of("target/no-model-here").toAbsolutePath() + " is not a directory (kiln.model.dir)"));
    }

    @Test
    void queueDepthIsExportedForTheStage() {
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("kiln_stage_queue_depth{stage=\"training\"} 0.0"));
    }
}
