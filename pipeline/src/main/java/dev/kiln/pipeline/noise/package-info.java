/**
 * Per-image Gaussian noise: {@link dev.kiln.pipeline.noise.NoiseSource} derives every stream from
 * (seed, image index, stream) alone, so a seed reproduces its image whatever else shares the batch;
 * {@link dev.kiln.pipeline.noise.GaussianNoise} is the view of it that schedulers draw from.
 */
package dev.kiln.pipeline.noise;
