package dev.kiln.gateway;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The body of {@code POST /v1/images/generations}: OpenAI's fields, then Kiln's extensions.
 * {@code quality}, {@code style} and {@code user} are accepted for compatibility and checked, but do not
 * change the picture. {@code unet} ({@code teacher} | {@code student}) chooses a model's UNet; clients that
 * cannot add fields write it as a model suffix instead ({@code "model": "emoji-tiny:teacher"}).
 * {@code decoder} is {@code vae} or {@code consistency}.
 */
public record ImageGenerationRequest(
        String prompt,
        String model,
        Integer n,
        String size,
        @JsonProperty("response_format") String responseFormat,
        String quality,
        String style,
        String user,
        @JsonProperty("negative_prompt") String negativePrompt,
        Integer steps,
        @JsonProperty("guidance_scale") Double guidanceScale,
        String scheduler,
        Long seed,
        @JsonProperty("init_image") String initImage,
        Double strength,
        String unet,
        String decoder) {

    /** The same request with its seed fixed, so running it again draws the same pictures. */
    public ImageGenerationRequest withSeed(long fixed) {
        return new ImageGenerationRequest(prompt, model, n, size, responseFormat, quality, style, user, negativePrompt,
                steps, guidanceScale, scheduler, fixed, initImage, strength, unet, decoder);
    }
}
