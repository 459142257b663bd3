package dev.kiln.pipeline.scheduler;

import dev.kiln.pipeline.noise.NoiseSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Facts that can be checked by hand against REFERENCE.md and diffusers' documented behaviour. */
class SchedulerFactsTest {
    private static final SchedulerConfig SD15 = SchedulerConfig.stableDiffusion15();

    /** runwayml/stable-diffusion-v1-5's scheduler/scheduler_config.json, verbatim. */
    private static final String SD15_JSON = """
            {
              "_class_name": "PNDMScheduler",
              "_diffusers_version": "0.6.0",
              "beta_end": 0.012,
              "beta_schedule": "scaled_linear",
              "beta_start": 0.00085,
              "num_train_timesteps": 1000,
              "set_alpha_to_one": false,
              "skip_prk_steps": true,
              "steps_offset": 1,
              "trained_betas": null,
              "clip_sample": false
            }
            """;

    @Test
    void stableDiffusionSigmaMax() {
        NoiseSchedule schedule = NoiseSchedule.of(SD15);
        assertEquals(14.6146, schedule.sigmaMax(), 1e-4);
        assertEquals(1000, schedule.trainTimesteps());
        assertEquals(0.00085, schedule.betas()[0], 1e-15);
        assertEquals(0.012, schedule.betas()[999], 1e-15);
        assertEquals(1 - 0.00085, schedule.alphaCumprod(0), 1e-15);
    }

    @Test
    void sd15JsonReadsAsTheBuiltInConfig(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("scheduler_config.json");
        Files.writeString(file, SD15_JSON);
        assertEquals(SD15, SchedulerConfig.read(file));
        assertEquals(SD15, SchedulerConfig.fromJson(SD15_JSON));
    }

    @Test
    void lcmFourStepsFollowTheDistillationGrid() {
        SamplingRun run = Schedulers.create("lcm", SD15).start(4);
        assertArrayEquals(new double[] {999, 759, 499, 259}, run.timesteps());
        assertEquals(1.0, run.initNoiseSigma());
    }

    @Test
    void ddimLeadingFiftyStepsStartAt981() {
        double[] timesteps = Schedulers.create("ddim", SD15).start(50).timesteps();
        assertEquals(981, timesteps[0]);
        assertEquals(961, timesteps[1]);
        assertEquals(1, timesteps[49]);
    }

    @Test
    void trailingTenStepsStartAt999() {
        SchedulerConfig trailing = SD15.withTimestepSpacing(TimestepSpacing.TRAILING);
        assertArrayEquals(new double[] {999, 899, 799, 699, 599, 499, 399, 299, 199, 99},
                Schedulers.create("ddim", trailing).start(10).timesteps());
        assertEquals(999, Schedulers.create("euler", trailing).start(10).timesteps()[0]);
    }

    @Test
    void eulerStartsAtSigmaMaxExceptWithLeadingSpacing() {
        double sigmaMax = NoiseSchedule.of(SD15).sigmaMax();
        SamplingRun linspace = Schedulers.create("euler", SD15).start(30);
        assertEquals(999, linspace.timesteps()[0]);
        assertEquals(sigmaMax, linspace.initNoiseSigma(), 1e-12);
        SamplingRun leading = Schedulers.create("euler", SD15.withTimestepSpacing(TimestepSpacing.LEADING)).start(50);
        double sigma981 = NoiseSchedule.of(SD15).sigma(981);
        assertEquals(Math.sqrt(sigma981 * sigma981 + 1), leading.initNoiseSigma(), 1e-12);
    }

    @Test
    void oneStepTimesteps() {
        Scheduler oneStep = Schedulers.create("onestep", SD15);
        assertArrayEquals(new double[] {999}, oneStep.start(1).timesteps());
        assertArrayEquals(new double[] {999, 749, 499, 249}, oneStep.start(4).timesteps());
        assertEquals(4, oneStep.maxSteps());
    }

    @Test
    void distilledSamplersRunWithoutGuidance() {
        assertFalse(Schedulers.create("lcm", SD15).usesGuidance());
        assertFalse(Schedulers.create("onestep", SD15).usesGuidance());
        assertTrue(Schedulers.create("ddim", SD15).usesGuidance());
        assertTrue(Schedulers.create("euler", SD15).usesGuidance());
        assertTrue(Schedulers.create("dpmpp_2m", SD15).usesGuidance());
    }

    @Test
    void configErrorsNameTheKeyAndTheChoices() {
        IllegalArgumentException schedule = assertThrows(IllegalArgumentException.class,
                () -> SchedulerConfig.fromJson("{\"beta_schedule\": \"cosine\"}"));
        assertEquals("scheduler config: 'beta_schedule' must be one of linear, scaled_linear, squaredcos_cap_v2, was 'cosine'",
                schedule.getMessage());
        IllegalArgumentException prediction = assertThrows(IllegalArgumentException.class,
                () -> SchedulerConfig.fromJson("{\"prediction_type\": \"flow\"}"));
        assertTrue(prediction.getMessage().contains("'prediction_type' must be one of epsilon, v_prediction, sample"),
                prediction.getMessage());
        IllegalArgumentException spacing = assertThrows(IllegalArgumentException.class,
                () -> SchedulerConfig.fromJson("{\"timestep_spacing\": \"karras\"}"));
        assertTrue(spacing.getMessage().contains("'timestep_spacing' must be one of leading, trailing, linspace"),
                spacing.getMessage());
        IllegalArgumentException steps = assertThrows(IllegalArgumentException.class,
                () -> SchedulerConfig.fromJson("{\"num_train_timesteps\": \"many\"}"));
        assertTrue(steps.getMessage().contains("'num_train_timesteps' must be an integer"), steps.getMessage());
        IllegalArgumentException flag = assertThrows(IllegalArgumentException.class,
                () -> SchedulerConfig.fromJson("{\"clip_sample\": \"no\"}"));
        assertTrue(flag.getMessage().contains("'clip_sample' must be true or false"), flag.getMessage());
        IllegalArgumentException betas = assertThrows(IllegalArgumentException.class,
                () -> SchedulerConfig.fromJson("{\"num_train_timesteps\": 3, \"trained_betas\": [0.1, 0.2]}"));
        assertTrue(betas.getMessage().contains("'trained_betas'"), betas.getMessage());
        IllegalArgumentException beta = assertThrows(IllegalArgumentException.class,
                () -> SchedulerConfig.fromJson("{\"beta_end\": 1.5}"));
        assertTrue(beta.getMessage().contains("'beta_end'"), beta.getMessage());
        IllegalArgumentException offset = assertThrows(IllegalArgumentException.class,
                () -> SchedulerConfig.fromJson("{\"steps_offset\": -1}"));
        assertTrue(offset.getMessage().contains("'steps_offset'"), offset.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SchedulerConfig.fromJson("[1, 2]"));
        assertThrows(IllegalArgumentException.class, () -> SchedulerConfig.fromJson("{not json"));
    }

    @Test
    void absentKeysTakeDiffusersDefaults() {
        SchedulerConfig config = SchedulerConfig.fromJson("{\"whatever\": [1, 2, 3], \"timestep_spacing\": null}");
        assertEquals(1000, config.numTrainTimesteps());
        assertEquals(BetaSchedule.LINEAR, config.betaSchedule());
        assertEquals(PredictionType.EPSILON, config.predictionType());
        assertEquals(Optional.empty(), config.timestepSpacing());
        assertEquals(Optional.empty(), config.className());
        assertTrue(config.setAlphaToOne());
        assertFalse(config.clipSample());
        assertEquals(50, config.originalInferenceSteps());
    }

    @Test
    void trainedBetasReplaceTheComputedSchedule() {
        SchedulerConfig config = SchedulerConfig.fromJson(
                "{\"num_train_timesteps\": 4, \"trained_betas\": [0.1, 0.2, 0.3, 0.4], \"beta_schedule\": \"scaled_linear\"}");
        NoiseSchedule schedule = NoiseSchedule.of(config);
        assertArrayEquals(new double[] {0.1, 0.2, 0.3, 0.4}, schedule.betas(), 0);
        assertEquals(0.9 * 0.8 * 0.7 * 0.6, schedule.alphaCumprod(3), 1e-15);
        assertEquals(4, Schedulers.create("ddim", config).start(4).steps());
        IllegalArgumentException lcm = assertThrows(IllegalArgumentException.class, () -> Schedulers.create("lcm", config));
        assertTrue(lcm.getMessage().contains("'original_inference_steps'"), lcm.getMessage());
    }

    @Test
    void unknownSchedulerListsTheNames() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> Schedulers.create("x", SD15));
        assertEquals("unknown scheduler 'x'; choose one of: ddim, euler, dpmpp_2m, lcm, onestep", error.getMessage());
        assertEquals(List.of("ddim", "euler", "dpmpp_2m", "lcm", "onestep"), Schedulers.names());
    }

    @Test
    void namesAreCaseInsensitiveAndAcceptAutomatic1111Spellings() {
        assertEquals("dpmpp_2m", Schedulers.create("DPM++ 2M", SD15).name());
        assertEquals("dpmpp_2m", Schedulers.create("dpm++ 2m", SD15).name());
        assertEquals("dpmpp_2m", Schedulers.create("DPMSolver++", SD15).name());
        assertEquals("euler", Schedulers.create("Euler", SD15).name());
        assertEquals("ddim", Schedulers.create("DDIM", SD15).name());
        assertEquals("lcm", Schedulers.create("LCM", SD15).name());
        assertEquals("onestep", Schedulers.create(" One-step ", SD15).name());
        assertEquals("euler", Schedulers.create("EulerDiscreteScheduler", SD15).name());
        assertEquals("DPM++ 2M", Schedulers.displayName("dpmpp_2m"));
        assertEquals("One-step", Schedulers.displayName("onestep"));
        assertEquals("Euler", Schedulers.create("euler", SD15).displayName());
        for (String name : Schedulers.names()) {
            Scheduler scheduler = Schedulers.create(name, SD15);
            assertEquals(name, scheduler.name());
            assertEquals(scheduler.displayName(), Schedulers.displayName(name));
            assertEquals(name, Schedulers.canonicalName(scheduler.displayName()));
            assertEquals(SD15, scheduler.config(), "a cached scheduler may hold an equal config from an earlier call");
        }
    }

    @Test
    void stepLimits() {
        for (String name : Schedulers.names()) {
            assertThrows(IllegalArgumentException.class, () -> Schedulers.create(name, SD15).start(0), name);
        }
        assertEquals(50, Schedulers.create("lcm", SD15).maxSteps());
        assertEquals(50, Schedulers.create("lcm", SD15).start(50).steps());
        assertThrows(IllegalArgumentException.class, () -> Schedulers.create("lcm", SD15).start(51));
        assertThrows(IllegalArgumentException.class, () -> Schedulers.create("onestep", SD15).start(5));
        IllegalArgumentException tooMany = assertThrows(IllegalArgumentException.class,
                () -> Schedulers.create("ddim", SD15).start(1001));
        assertTrue(tooMany.getMessage().contains("between 1 and 1000"), tooMany.getMessage());
        // leading spacing with steps_offset 1 reaches timestep 1000 at 1000 steps
        IllegalArgumentException outside = assertThrows(IllegalArgumentException.class,
                () -> Schedulers.create("ddim", SD15).start(1000));
        assertTrue(outside.getMessage().contains("timestep 1000"), outside.getMessage());
        assertEquals(1000, Schedulers.create("euler", SD15).start(1000).steps());
        Scheduler dpm = Schedulers.create("dpmpp_2m", SD15);
        assertEquals(999, dpm.maxSteps());
        for (TimestepSpacing spacing : List.of(TimestepSpacing.LINSPACE, TimestepSpacing.TRAILING)) {
            Scheduler spaced = Schedulers.create("dpmpp_2m", SD15.withTimestepSpacing(spacing));
            assertEquals(999, spaced.start(999).steps(), spacing.configName());
        }
        // leading: stride 1000 // 999 = 1, so 998 steps end at 998 + steps_offset = 999
        Scheduler leading = Schedulers.create("dpmpp_2m", SD15.withTimestepSpacing(TimestepSpacing.LEADING));
        assertEquals(999, leading.start(998).timesteps()[0]);
        assertThrows(IllegalArgumentException.class, () -> leading.start(999));
        assertThrows(IllegalArgumentException.class, () -> dpm.start(1000));
    }

    @Test
    void strengthPicksTheFirstStepAsDiffusersDoes() {
        SamplingRun run = Schedulers.create("ddim", SD15).start(50);
        assertEquals(0, run.startIndexForStrength(1.0));
        assertEquals(50, run.startIndexForStrength(0.0));
        assertEquals(10, run.startIndexForStrength(0.8));
        assertEquals(33, run.startIndexForStrength(0.35)); // int(17.5) = 17
        assertThrows(IllegalArgumentException.class, () -> run.startIndexForStrength(1.5));
        assertThrows(IllegalArgumentException.class, () -> run.startIndexForStrength(Double.NaN));
    }

    @Test
    void stochasticSamplersDrawStreamStepPlusOneFromTheImageNoise() {
        NoiseSource source = new NoiseSource(42, 3);
        List<Integer> streams = new ArrayList<>();
        for (String name : List.of("lcm", "onestep")) {
            streams.clear();
            SamplingRun recorded = Schedulers.create(name, SD15).start(4);
            SamplingRun direct = Schedulers.create(name, SD15).start(4);
            float[] a = source.gaussian(0, 32);
            float[] b = a.clone();
            for (int step = 0; step < 4; step++) {
                float[] output = new float[32];
                Arrays.fill(output, 0.1f * step);
                a = recorded.step(output, step, a, (stream, count) -> {
                    streams.add(stream);
                    return source.gaussian(stream, count);
                });
                b = direct.step(output, step, b, source);
            }
            assertArrayEquals(a, b, name);
            assertEquals(List.of(1, 2, 3), streams, name + " draws fresh noise for every step but the last");
        }
    }

    @Test
    void deterministicSamplersNeedNoNoise() {
        for (String name : List.of("ddim", "euler", "dpmpp_2m")) {
            SamplingRun run = Schedulers.create(name, SD15).start(3);
            float[] sample = {1, -1, 0.5f};
            for (int step = 0; step < 3; step++) {
                sample = run.step(new float[] {0.1f, 0.2f, 0.3f}, step, sample, null);
            }
            assertEquals(3, sample.length);
        }
        assertThrows(NullPointerException.class,
                () -> Schedulers.create("lcm", SD15).start(2).step(new float[1], 0, new float[1], null));
    }

    @Test
    void runsOfOneSchedulerAreIndependent() {
        Scheduler dpm = Schedulers.create("dpmpp_2m", SD15);
        float[] alone = trajectory(dpm.start(6), 0.3f);
        SamplingRun first = dpm.start(6);
        SamplingRun second = dpm.start(6);
        float[] x = {1, 2, -1, 0.5f};
        float[] y = {1, 2, -1, 0.5f};
        for (int step = 0; step < 6; step++) {
            x = first.step(fakeModel(x, 0.3f), step, x, null);
            y = second.step(fakeModel(y, -0.7f), step, y, null);
        }
        assertArrayEquals(alone, x);
    }

    @Test
    void multistepHistoryRequiresStepsInOrder() {
        SamplingRun run = Schedulers.create("dpmpp_2m", SD15).start(5);
        float[] x = {1, 2};
        x = run.step(fakeModel(x, 0), 0, x, null);
        float[] after = x;
        assertThrows(IllegalStateException.class, () -> run.step(fakeModel(after, 0), 2, after, null));
        // image-to-image may start anywhere
        SamplingRun img2img = Schedulers.create("dpmpp_2m", SD15).start(5);
        float[] y = img2img.step(fakeModel(after, 0), 2, after, null);
        y = img2img.step(fakeModel(y, 0), 3, y, null);
        assertEquals(2, y.length);
    }

    @Test
    void scaleModelInputMayWorkInPlace() {
        SamplingRun run = Schedulers.create("euler", SD15).start(10);
        float[] sample = {14.6f, -7.3f};
        float[] separate = new float[2];
        run.scaleModelInput(sample, 0, separate);
        run.scaleModelInput(sample, 0, sample);
        assertArrayEquals(separate, sample);
        assertEquals(1.0, sample[0], 0.01);
        SamplingRun ddim = Schedulers.create("ddim", SD15).start(10);
        float[] identity = new float[2];
        ddim.scaleModelInput(new float[] {3, 4}, 0, identity);
        assertArrayEquals(new float[] {3, 4}, identity);
    }

    @Test
    void badArgumentsAreRejected() {
        SamplingRun run = Schedulers.create("ddim", SD15).start(4);
        assertThrows(IllegalArgumentException.class, () -> run.step(new float[3], 0, new float[4], null));
        assertThrows(IllegalArgumentException.class, () -> run.step(new float[4], 4, new float[4], null));
        assertThrows(IllegalArgumentException.class, () -> run.addNoise(new float[4], new float[3], 0));
    }

    @Test
    void timestepsAreACopy() {
        SamplingRun run = Schedulers.create("ddim", SD15).start(4);
        run.timesteps()[0] = -5;
        assertEquals(751, run.timesteps()[0]);
    }

    private static float[] trajectory(SamplingRun run, float offset) {
        float[] x = {1, 2, -1, 0.5f};
        for (int step = 0; step < run.steps(); step++) {
            x = run.step(fakeModel(x, offset), step, x, null);
        }
        return x;
    }

    private static float[] fakeModel(float[] sample, float offset) {
        float[] out = new float[sample.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = 0.5f * sample[i] + offset;
        }
        return out;
    }
}
