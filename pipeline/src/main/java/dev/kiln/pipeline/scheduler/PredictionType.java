package dev.kiln.pipeline.scheduler;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * What the denoising model predicts ({@code prediction_type} in scheduler_config.json).
 *
 * <p>The conversions are written for a variance-preserving sample {@code x = α·x0 + σ·ε} with
 * {@code α² + σ² = 1}; samplers that keep their sample in another scale (Euler's σ-space) convert to
 * this form first, so that every sampler reads a model's output the same way.
 */
public enum PredictionType {
    /** The noise ε that was added. */
    EPSILON("epsilon"),
    /** The velocity {@code v = α·ε − σ·x0} (Salimans and Ho), used by SD 2.x 768 models. */
    V_PREDICTION("v_prediction"),
    /** The clean sample x0 itself. */
    SAMPLE("sample");

    private final String configName;

    PredictionType(String configName) {
        this.configName = configName;
    }

    /** The spelling used in scheduler_config.json. */
    public String configName() {
        return configName;
    }

    /** Parses the config spelling; anything else is an error that lists the accepted spellings. */
    public static PredictionType fromConfigName(String value) {
        for (PredictionType type : values()) {
            if (type.configName.equals(value)) {
                return type;
            }
        }
        throw new IllegalArgumentException("scheduler config: 'prediction_type' must be one of "
                + Arrays.stream(values()).map(PredictionType::configName).collect(Collectors.joining(", "))
                + ", was '" + value + "'");
    }

    /**
     * The model's estimate of the clean sample x0.
     *
     * @param modelOutput the model's output for one element
     * @param sample      the noisy sample {@code α·x0 + σ·ε} for that element
     * @param alpha       α = √ᾱ_t
     * @param sigma       σ = √(1 − ᾱ_t)
     */
    public double cleanSample(double modelOutput, double sample, double alpha, double sigma) {
        return switch (this) {
            case EPSILON -> (sample - sigma * modelOutput) / alpha;
            case V_PREDICTION -> alpha * sample - sigma * modelOutput;
            case SAMPLE -> modelOutput;
        };
    }

    /**
     * {@link #cleanSample} as {@code perSample·x + perOutput·modelOutput}: it is linear in both for every prediction
     * type, so a sampler can read the two coefficients once per step instead of calling it per element.
     */
    public record Linear(double perSample, double perOutput) {
    }

    /**
     * The coefficients of {@link #cleanSample}, read off it (so its formulas stay the only ones) for a sample
     * {@code x} held at {@code sampleScale} times the variance-preserving sample: 1 for DDIM-style samplers, α for
     * Euler's σ-space, whose model input is α·x.
     */
    public Linear cleanSampleLinear(double sampleScale, double alpha, double sigma) {
        return new Linear(cleanSample(0.0, sampleScale, alpha, sigma), cleanSample(1.0, 0.0, alpha, sigma));
    }

    /** {@link #noise} as {@code perSample·x + perOutput·modelOutput}, read off it as {@link #cleanSampleLinear} is. */
    public Linear noiseLinear(double alpha, double sigma) {
        return new Linear(noise(0.0, 1.0, alpha, sigma), noise(1.0, 0.0, alpha, sigma));
    }

    /** The model's estimate of the noise ε, with the arguments of {@link #cleanSample}. */
    public double noise(double modelOutput, double sample, double alpha, double sigma) {
        return switch (this) {
            case EPSILON -> modelOutput;
            case V_PREDICTION -> alpha * modelOutput + sigma * sample;
            case SAMPLE -> (sample - alpha * modelOutput) / sigma;
        };
    }
}
