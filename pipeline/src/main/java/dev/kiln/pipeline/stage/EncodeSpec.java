package dev.kiln.pipeline.stage;

/**
 * What the encoder stage is asked: the prompts of one request.
 *
 * @param model          model id
 * @param prompt         the prompt
 * @param negativePrompt the negative prompt ("" for none); encoded only when {@code guided}
 * @param guided         whether classifier-free guidance needs the unconditional hidden states
 */
public record EncodeSpec(String model, String prompt, String negativePrompt, boolean guided) {
}
