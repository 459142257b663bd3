package dev.kiln.pipeline.scheduler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.pipeline.noise.GaussianNoise;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Replays the trajectories that {@code models/recipes/scheduler_reference.py} (an independent numpy
 * implementation) recorded, with the same fake model and the same recorded fresh noise, and
 * compares every number it wrote.
 */
class SchedulerGoldenTest {
    private static final double RELATIVE = 1e-5;
    /** Floor for values near zero, where a relative bound would ask for more than float32 holds. */
    private static final double ABSOLUTE = 1e-6;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TestFactory
    Stream<DynamicTest> ddim() throws IOException {
        return cases("ddim");
    }

    @TestFactory
    Stream<DynamicTest> euler() throws IOException {
        return cases("euler");
    }

    @TestFactory
    Stream<DynamicTest> dpmSolverPlusPlus2M() throws IOException {
        return cases("dpmpp_2m");
    }

    @TestFactory
    Stream<DynamicTest> lcm() throws IOException {
        return cases("lcm");
    }

    @TestFactory
    Stream<DynamicTest> oneStep() throws IOException {
        return cases("onestep");
    }

    private static Stream<DynamicTest> cases(String scheduler) throws IOException {
        JsonNode root;
        try (InputStream in = SchedulerGoldenTest.class.getResourceAsStream("/scheduler/" + scheduler + ".json")) {
            assertNotNull(in, "golden file scheduler/" + scheduler + ".json is missing; run models/recipes/scheduler_reference.py");
            root = JSON.readTree(in);
        }
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode golden : root.get("cases")) {
            JsonNode config = golden.get("config");
            String label = scheduler + " " + golden.get("steps").asInt() + " steps, "
                    + config.path("timestep_spacing").asText("default spacing") + ", "
                    + config.path("prediction_type").asText("epsilon") + ", "
                    + config.path("beta_schedule").asText()
                    + (config.path("set_alpha_to_one").asBoolean(false) ? ", alpha to one" : "")
                    + (config.path("clip_sample").asBoolean(false) ? ", clipped" : "");
            tests.add(DynamicTest.dynamicTest(label, () -> replay(golden)));
        }
        assertTrue(tests.size() >= 8, "too few golden cases for " + scheduler);
        return tests.stream();
    }

    private static void replay(JsonNode golden) {
        Scheduler scheduler = Schedulers.create(golden.get("scheduler").asText(), SchedulerConfig.fromJson(golden.get("config")));
        int steps = golden.get("steps").asInt();
        SamplingRun run = scheduler.start(steps);

        assertClose(doubles(golden.get("timesteps")), run.timesteps(), "timesteps");
        assertClose(golden.get("init_noise_sigma").asDouble(), run.initNoiseSigma(), "init_noise_sigma");
        if (golden.has("sigmas")) {
            double[] sigmas = run instanceof EulerDiscreteScheduler.Run euler ? euler.sigmas()
                    : ((DpmSolverMultistepScheduler.Run) run).sigmas();
            assertClose(doubles(golden.get("sigmas")), sigmas, "sigmas");
        }

        JsonNode noise = golden.get("noise");
        GaussianNoise recorded = (stream, count) -> {
            JsonNode values = noise == null ? null : noise.get(Integer.toString(stream));
            if (values == null) {
                fail("the reference drew no noise for stream " + stream);
            }
            float[] out = floats(values);
            assertEquals(count, out.length, "noise count for stream " + stream);
            return out;
        };

        float[] sample = floats(golden.get("initial_sample"));
        JsonNode scaledInputs = golden.get("scaled_inputs");
        JsonNode samples = golden.get("samples");
        for (int step = 0; step < steps; step++) {
            float[] scaled = new float[sample.length];
            run.scaleModelInput(sample, step, scaled);
            if (step < scaledInputs.size()) {
                assertClose(doubles(scaledInputs.get(step)), scaled, "scaled input at step " + step);
            }
            float[] modelOutput = new float[sample.length];
            for (int i = 0; i < modelOutput.length; i++) {
                modelOutput[i] = (float) (0.5 * scaled[i] + 0.1 * Math.cos(i + step));
            }
            sample = run.step(modelOutput, step, sample, recorded);
            if (samples != null) {
                assertClose(doubles(samples.get(step)), sample, "sample after step " + step);
            }
        }
        if (golden.has("final_sample")) {
            assertClose(doubles(golden.get("final_sample")), sample, "final sample");
        }

        JsonNode addNoise = golden.get("add_noise");
        float[] original = floats(addNoise.get("original"));
        float[] addedNoise = floats(addNoise.get("noise"));
        for (JsonNode at : addNoise.get("at")) {
            int step = at.get("step").asInt();
            assertClose(doubles(at.get("result")), run.addNoise(original, addedNoise, step), "add_noise at step " + step);
        }
        for (JsonNode strength : golden.get("strength")) {
            double value = strength.get("strength").asDouble();
            assertEquals(strength.get("start_index").asInt(), run.startIndexForStrength(value), "start index at strength " + value);
        }
    }

    private static double[] doubles(JsonNode array) {
        double[] out = new double[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asDouble();
        }
        return out;
    }

    private static float[] floats(JsonNode array) {
        float[] out = new float[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) array.get(i).asDouble();
        }
        return out;
    }

    private static void assertClose(double expected, double actual, String what) {
        double tolerance = Math.max(ABSOLUTE, RELATIVE * Math.abs(expected));
        if (!(Math.abs(expected - actual) <= tolerance)) {
            fail(what + ": expected " + expected + " but was " + actual);
        }
    }

    private static void assertClose(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            assertClose(expected[i], actual[i], what + "[" + i + "]");
        }
    }

    private static void assertClose(double[] expected, float[] actual, String what) {
        double[] widened = new double[actual.length];
        for (int i = 0; i < actual.length; i++) {
            widened[i] = actual[i];
        }
        assertClose(expected, widened, what);
    }
}
