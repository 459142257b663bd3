package dev.kiln.pipeline;

import java.util.List;

/**
 * What a generation produced.
 *
 * @param settings     the settings it ran with (defaults and random seed filled in)
 * @param images       the pictures, in order
 * @param warnings     things the caller should know, e.g. the part of a prompt the tokenizer cut off
 * @param encodeNanos  time in the encoder stage
 * @param denoiseNanos time in the denoiser stage, queueing included
 * @param decodeNanos  time in the decoder stage
 */
public record GenerationResult(GenerationSettings settings, List<GeneratedImage> images, List<String> warnings,
                               long encodeNanos, long denoiseNanos, long decodeNanos) {
}
