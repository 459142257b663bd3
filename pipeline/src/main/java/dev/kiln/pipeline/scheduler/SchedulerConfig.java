package dev.kiln.pipeline.scheduler;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The parts of a diffusers {@code scheduler_config.json} that Kiln's samplers read.
 *
 * <p>Any diffusers scheduler's config loads into any Kiln scheduler, as {@code from_config} allows in
 * diffusers: a model package ships one config (SD1.5 ships a PNDM one) and the user picks the sampler.
 * Keys Kiln does not use ({@code skip_prk_steps}, {@code _diffusers_version}, solver settings) are
 * ignored; a JSON {@code null} counts as absent.
 *
 * @param className              {@code _class_name}, the diffusers class the file was written for
 * @param numTrainTimesteps      {@code num_train_timesteps} T
 * @param betaStart              {@code beta_start}
 * @param betaEnd                {@code beta_end}
 * @param betaSchedule           {@code beta_schedule}; ignored when {@code trainedBetas} is given
 * @param trainedBetas           {@code trained_betas}, T explicit betas, or empty to compute them
 * @param predictionType         {@code prediction_type}
 * @param timestepSpacing        {@code timestep_spacing}; empty when the file does not say, in which case
 *                               each sampler uses its diffusers class default (DDIM leading, Euler and
 *                               DPM-Solver linspace), since SD1.x configs predate the key
 * @param stepsOffset            {@code steps_offset}, added to {@code leading} timesteps
 * @param setAlphaToOne          {@code set_alpha_to_one}: DDIM's last step lands on ᾱ = 1 rather than ᾱ₀
 * @param clipSample             {@code clip_sample}: clamp the x0 estimate (DDIM, LCM, one-step)
 * @param clipSampleRange        {@code clip_sample_range}, the clamp bound
 * @param originalInferenceSteps {@code original_inference_steps}: the LCM distillation's step grid (50)
 * @param timestepScaling        {@code timestep_scaling}: LCM's boundary-condition time scale (10)
 */
public record SchedulerConfig(
        Optional<String> className,
        int numTrainTimesteps,
        double betaStart,
        double betaEnd,
        BetaSchedule betaSchedule,
        List<Double> trainedBetas,
        PredictionType predictionType,
        Optional<TimestepSpacing> timestepSpacing,
        int stepsOffset,
        boolean setAlphaToOne,
        boolean clipSample,
        double clipSampleRange,
        int originalInferenceSteps,
        double timestepScaling) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public SchedulerConfig {
        if (className == null || betaSchedule == null || trainedBetas == null || predictionType == null
                || timestepSpacing == null) {
            throw new NullPointerException("scheduler config: absent values are Optional.empty() or an empty list, never null");
        }
        trainedBetas = List.copyOf(trainedBetas);
        if (numTrainTimesteps < 1) {
            throw new IllegalArgumentException("scheduler config: 'num_train_timesteps' must be >= 1, was " + numTrainTimesteps);
        }
        requireOpenUnit("beta_start", betaStart);
        requireOpenUnit("beta_end", betaEnd);
        if (!trainedBetas.isEmpty()) {
            if (trainedBetas.size() != numTrainTimesteps) {
                throw new IllegalArgumentException("scheduler config: 'trained_betas' must hold num_train_timesteps ("
                        + numTrainTimesteps + ") values, has " + trainedBetas.size());
            }
            for (int t = 0; t < trainedBetas.size(); t++) {
                double beta = trainedBetas.get(t);
                if (!(beta > 0 && beta < 1)) {
                    throw new IllegalArgumentException("scheduler config: 'trained_betas' values must lie in (0, 1), value "
                            + t + " was " + beta);
                }
            }
        }
        if (stepsOffset < 0 || stepsOffset >= numTrainTimesteps) {
            throw new IllegalArgumentException("scheduler config: 'steps_offset' must be between 0 and num_train_timesteps - 1 ("
                    + (numTrainTimesteps - 1) + "), was " + stepsOffset);
        }
        if (!(clipSampleRange > 0) || Double.isInfinite(clipSampleRange)) {
            throw new IllegalArgumentException("scheduler config: 'clip_sample_range' must be a positive number, was " + clipSampleRange);
        }
        // its upper bound, num_train_timesteps, is checked by LCM alone: the default of 50 must not
        // make a small-T config unusable for the samplers that ignore the key
        if (originalInferenceSteps < 1) {
            throw new IllegalArgumentException("scheduler config: 'original_inference_steps' must be >= 1, was " + originalInferenceSteps);
        }
        if (!(timestepScaling > 0) || Double.isInfinite(timestepScaling)) {
            throw new IllegalArgumentException("scheduler config: 'timestep_scaling' must be a positive number, was " + timestepScaling);
        }
    }

    /**
     * Stable Diffusion 1.5's {@code scheduler/scheduler_config.json} (a PNDM config: scaled_linear
     * 0.00085..0.012 over 1000 steps, steps_offset 1, set_alpha_to_one false, clip_sample false, ε).
     */
    public static SchedulerConfig stableDiffusion15() {
        return new SchedulerConfig(Optional.of("PNDMScheduler"), 1000, 0.00085, 0.012, BetaSchedule.SCALED_LINEAR,
                List.of(), PredictionType.EPSILON, Optional.empty(), 1, false, false, 1.0, 50, 10.0);
    }

    /** Reads a scheduler_config.json; I/O failures are unchecked, a malformed file is an {@link IllegalArgumentException}. */
    public static SchedulerConfig read(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("scheduler config " + file + " is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read scheduler config " + file, e);
        }
        try {
            return fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** Parses the text of a scheduler_config.json. */
    public static SchedulerConfig fromJson(String json) {
        try {
            return fromJson(JSON.readTree(json));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("scheduler config is not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    /**
     * Reads a parsed scheduler_config.json. Absent keys take diffusers' class defaults (linear betas
     * 0.0001..0.02 over 1000 steps, ε, steps_offset 0, set_alpha_to_one true, clip range 1), except
     * {@code clip_sample}, which defaults to false: DDIM's class default of true suits pixel-space models
     * and every latent-diffusion config sets it explicitly.
     */
    public static SchedulerConfig fromJson(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("scheduler config must be a JSON object");
        }
        int numTrainTimesteps = intValue(root, "num_train_timesteps", 1000);
        List<Double> trainedBetas = new ArrayList<>();
        JsonNode betas = present(root, "trained_betas");
        if (betas != null) {
            if (!betas.isArray()) {
                throw new IllegalArgumentException("scheduler config: 'trained_betas' must be an array of numbers or null");
            }
            for (JsonNode beta : betas) {
                if (!beta.isNumber()) {
                    throw new IllegalArgumentException("scheduler config: 'trained_betas' must be an array of numbers, found " + beta);
                }
                trainedBetas.add(beta.doubleValue());
            }
        }
        return new SchedulerConfig(
                Optional.ofNullable(textValue(root, "_class_name")),
                numTrainTimesteps,
                doubleValue(root, "beta_start", 0.0001),
                doubleValue(root, "beta_end", 0.02),
                enumValue(root, "beta_schedule", BetaSchedule.LINEAR, BetaSchedule::fromConfigName),
                trainedBetas,
                enumValue(root, "prediction_type", PredictionType.EPSILON, PredictionType::fromConfigName),
                Optional.ofNullable(enumValue(root, "timestep_spacing", null, TimestepSpacing::fromConfigName)),
                intValue(root, "steps_offset", 0),
                booleanValue(root, "set_alpha_to_one", true),
                booleanValue(root, "clip_sample", false),
                doubleValue(root, "clip_sample_range", 1.0),
                intValue(root, "original_inference_steps", 50),
                doubleValue(root, "timestep_scaling", 10.0));
    }

    /** This config with another prediction type, for a model package that states it elsewhere. */
    public SchedulerConfig withPredictionType(PredictionType type) {
        return new SchedulerConfig(className, numTrainTimesteps, betaStart, betaEnd, betaSchedule, trainedBetas, type,
                timestepSpacing, stepsOffset, setAlphaToOne, clipSample, clipSampleRange, originalInferenceSteps,
                timestepScaling);
    }

    /** This config with an explicit timestep spacing, e.g. trailing for few-step sampling. */
    public SchedulerConfig withTimestepSpacing(TimestepSpacing spacing) {
        return new SchedulerConfig(className, numTrainTimesteps, betaStart, betaEnd, betaSchedule, trainedBetas,
                predictionType, Optional.of(spacing), stepsOffset, setAlphaToOne, clipSample, clipSampleRange,
                originalInferenceSteps, timestepScaling);
    }

    private static void requireOpenUnit(String key, double value) {
        if (!(value > 0 && value < 1)) {
            throw new IllegalArgumentException("scheduler config: '" + key + "' must lie in (0, 1), was " + value);
        }
    }

    private static JsonNode present(JsonNode root, String key) {
        JsonNode node = root.get(key);
        return node == null || node.isNull() ? null : node;
    }

    private static int intValue(JsonNode root, String key, int fallback) {
        JsonNode node = present(root, key);
        if (node == null) {
            return fallback;
        }
        // 1000.0 is as good as 1000 (hand-edited files), 999.5 is not
        if (!node.isNumber() || !node.canConvertToExactIntegral() || !node.canConvertToInt()) {
            throw new IllegalArgumentException("scheduler config: '" + key + "' must be an integer, was " + node);
        }
        return node.asInt();
    }

    private static double doubleValue(JsonNode root, String key, double fallback) {
        JsonNode node = present(root, key);
        if (node == null) {
            return fallback;
        }
        if (!node.isNumber()) {
            throw new IllegalArgumentException("scheduler config: '" + key + "' must be a number, was " + node);
        }
        return node.doubleValue();
    }

    private static boolean booleanValue(JsonNode root, String key, boolean fallback) {
        JsonNode node = present(root, key);
        if (node == null) {
            return fallback;
        }
        if (!node.isBoolean()) {
            throw new IllegalArgumentException("scheduler config: '" + key + "' must be true or false, was " + node);
        }
        return node.booleanValue();
    }

    private static String textValue(JsonNode root, String key) {
        JsonNode node = present(root, key);
        if (node == null) {
            return null;
        }
        if (!node.isTextual()) {
            throw new IllegalArgumentException("scheduler config: '" + key + "' must be a string, was " + node);
        }
        return node.textValue();
    }

    private static <E> E enumValue(JsonNode root, String key, E fallback, java.util.function.Function<String, E> parse) {
        JsonNode node = present(root, key);
        if (node == null) {
            return fallback;
        }
        if (!node.isTextual()) {
            // parse() names the key and the allowed values
            return parse.apply(node.toString());
        }
        return parse.apply(node.textValue());
    }
}
