package dev.kiln.pipeline.stage;

import dev.kiln.pipeline.image.RgbImage;
import java.util.List;

/** VAE (or consistency) decoding and image encoding. */
public interface DecoderStage {
    /** PNG bytes, one per latent, in order. */
    List<byte[]> decode(DecodeSpec spec);

    /**
     * Encodes an init image for image-to-image to a scaled latent [C·h·w]; the posterior sample drawn
     * from the VAE's distribution depends only on {@code seed}.
     *
     * @throws dev.kiln.pipeline.error.InvalidRequestException when the model has no VAE encoder
     */
    float[] encodeImage(String model, RgbImage image, long seed);
}
