package dev.kiln.gateway;

import static io.restassured.RestAssured.given;

import java.time.Duration;
import java.time.Instant;

/** Tests start once the gateway says it is ready: the models load in the background after start-up. */
final class Readiness {
    private Readiness() {
    }

    static void await() throws InterruptedException {
        Instant end = Instant.now().plus(Duration.ofSeconds(60));
        while (given().get("/q/health/ready").statusCode() != 200 && Instant.now().isBefore(end)) {
            Thread.sleep(100);
        }
        given().get("/q/health/ready").then().statusCode(200);
    }
}
