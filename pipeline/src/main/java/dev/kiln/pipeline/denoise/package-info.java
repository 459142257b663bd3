/**
 * Denoising: the UNet adapted to every export flavour, one {@link dev.kiln.pipeline.denoise.ImageTrajectory}
 * per image, iteration-level batching in {@link dev.kiln.pipeline.denoise.DenoiseBatch} and the worker
 * thread {@link dev.kiln.pipeline.denoise.DenoiseLoop} that serves many requests at once.
 */
package dev.kiln.pipeline.denoise;
