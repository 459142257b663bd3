package dev.kiln.pipeline.stage;

/**
 * Told after each batched session call of an in-process encoder or decoder stage: the model and how many
 * items (prompts, pictures) the call took, the batch sizes behind {@code kiln_encoder_batch_size} and
 * {@code kiln_decoder_batch_size}.
 */
@FunctionalInterface
public interface StageCallObserver {
    StageCallObserver NONE = (model, items) -> { };

    void onCall(String model, int items);
}
