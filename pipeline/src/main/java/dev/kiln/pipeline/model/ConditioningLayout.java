package dev.kiln.pipeline.model;

/**
 * The shapes a model package works in, read from its sessions where they are static and from
 * {@code kiln.json} (or Stable Diffusion's defaults) where they are not.
 *
 * @param maxTokens      prompt length the text encoder takes (77 for CLIP)
 * @param contextWidth   width of the hidden states the UNet attends to (768 for SD1.x)
 * @param latentChannels channels of the latent the UNet denoises (4)
 * @param latentFactor   pixels per latent cell along each side (8)
 * @param scalingFactor  the VAE scaling factor latents are multiplied by (0.18215 for SD1.x)
 * @param imageSize      default image side in pixels
 * @param sizeMultiple   width and height must be multiples of this (latent factor × UNet down-sampling)
 * @param maxImageSize   largest accepted side in pixels
 */
public record ConditioningLayout(int maxTokens, int contextWidth, int latentChannels, int latentFactor,
                                 double scalingFactor, int imageSize, int sizeMultiple, int maxImageSize) {
}
