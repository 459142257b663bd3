/**
 * Between latents and pixels: the VAE decoder, the consistency decoder (two-step sampling over OpenAI's
 * cosine schedule), and the VAE encoder used by image-to-image and by reconstruction metrics.
 */
package dev.kiln.pipeline.decode;
