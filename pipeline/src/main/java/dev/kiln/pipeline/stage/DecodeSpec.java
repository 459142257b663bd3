package dev.kiln.pipeline.stage;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What the decoder stage is asked: turn one request's latents into PNG files.
 *
 * @param model       model id
 * @param latents     one scaled latent [C·h·w] per image
 * @param latentShape [C, h, w]
 * @param decoder     {@link #VAE} or {@link #CONSISTENCY} (the package's consistency decoder)
 * @param pngText     text chunks to write into each image's PNG, one map per image
 * @param seeds       one seed per image: the consistency decoder's noise for image i depends on {@code seeds[i]}
 *                    alone; the VAE ignores them
 */
public record DecodeSpec(String model, List<float[]> latents, long[] latentShape, String decoder,
                         List<Map<String, String>> pngText, long[] seeds) {
    public static final String VAE = "vae";
    public static final String CONSISTENCY = "consistency";

    public DecodeSpec {
        if (pngText.size() != latents.size()) {
            throw new IllegalArgumentException("one set of PNG text per image is needed");
        }
        if (seeds.length != latents.size()) {
            throw new IllegalArgumentException("one seed per image is needed: " + seeds.length + " for "
                    + latents.size() + " images");
        }
    }

    /** A VAE decode, which needs no seeds. */
    public DecodeSpec(String model, List<float[]> latents, long[] latentShape, String decoder,
                      List<Map<String, String>> pngText) {
        this(model, latents, latentShape, decoder, pngText, new long[latents.size()]);
    }

    /** The canonical decoder name for the spellings users write ({@code consistency_decoder}, {@code VAE}). */
    public static String canonicalDecoder(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        return n.equals("consistency_decoder") || n.equals("consistency-decoder") ? CONSISTENCY : n;
    }
}
