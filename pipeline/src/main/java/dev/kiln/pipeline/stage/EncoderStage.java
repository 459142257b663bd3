package dev.kiln.pipeline.stage;

/** Tokenizer and text encoder: prompts to hidden states. */
public interface EncoderStage {
    /**
     * @throws dev.kiln.pipeline.error.ModelNotFoundException when the model is unknown
     * @throws dev.kiln.pipeline.error.StageUnavailableException when the stage cannot be reached or is not ready
     */
    Conditioning encode(EncodeSpec spec);
}
