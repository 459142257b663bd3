package dev.kiln.pipeline.text;

/**
 * A prompt as token ids, padded or truncated to the text encoder's length.
 *
 * @param text          the prompt as given
 * @param ids           exactly {@code maxTokens} ids, special tokens included
 * @param attentionMask 1 for real tokens, 0 for padding
 * @param truncated     whether the prompt was longer than the encoder takes
 * @param droppedText   the part of the prompt that was cut off (empty when nothing was), so callers can
 *                      tell their users instead of cutting silently
 */
public record TokenizedPrompt(String text, long[] ids, long[] attentionMask, boolean truncated, String droppedText) {
}
