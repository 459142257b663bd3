package dev.kiln.pipeline.stage;

import dev.kiln.pipeline.denoise.DenoiseProgress;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;

/** The batched denoising loop: conditioning and seeds to final latents. */
public interface DenoiserStage {
    /**
     * Starts sampling a request's images. The future completes with one latent per image ([C·h·w],
     * scaled as the sampler leaves them) or fails with {@link java.util.concurrent.CancellationException}
     * once {@code cancelled} turns true, {@link dev.kiln.pipeline.error.OverloadedException} when the
     * queue is full, or {@link dev.kiln.pipeline.error.InvalidRequestException} for settings the model cannot take.
     */
    CompletableFuture<List<float[]>> denoise(DenoiseSpec spec, DenoiseProgress progress, BooleanSupplier cancelled);

    /** Requests waiting or in flight, over all models. */
    int queueDepth();
}
