package dev.kiln.pipeline.stage;

import java.util.List;
import java.util.Map;

/**
 * What the decoder stage is asked: turn one request's latents into PNG files.
 *
 * @param model       model id
 * @param latents     one scaled latent [C·h·w] per image
 * @param latentShape [C, h, w]
 * @param decoder     {@code vae}, or a decoder component the package names (e.g. {@code consistency_decoder})
 * @param pngText     text chunks to write into each image's PNG, one map per image
 */
public record DecodeSpec(String model, List<float[]> latents, long[] latentShape, String decoder,
                         List<Map<String, String>> pngText) {
    public static final String VAE = "vae";

    public DecodeSpec {
        if (pngText.size() != latents.size()) {
            throw new IllegalArgumentException("one set of PNG text per image is needed");
        }
    }
}
