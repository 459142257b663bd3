/**
 * Prompts to conditioning: the tokenizer (Hugging Face tokenizers through DJL, CLIP BPE or WordPiece)
 * and the text encoder session. Truncation is reported, never silent.
 */
package dev.kiln.pipeline.text;
