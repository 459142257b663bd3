/**
 * Between latents and pixels: the VAE decoder (and, later, the consistency decoder) and the VAE
 * encoder used by image-to-image.
 */
package dev.kiln.pipeline.decode;
