package dev.kiln.pipeline.stage;

import dev.kiln.pipeline.denoise.DenoiseProgress;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
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

    /**
     * {@link #denoise} for a caller that blocks until the latents are there, failing as
     * {@link CompletableFuture#get()} on its future would: a cancelled request with a
     * {@link java.util.concurrent.CancellationException}, the other failures as the cause of an
     * {@link ExecutionException}. An in-process stage may run the UNet calls on the calling thread; an interrupted
     * wait cancels the request's future.
     */
    default List<float[]> denoiseAndWait(DenoiseSpec spec, DenoiseProgress progress, BooleanSupplier cancelled)
            throws InterruptedException, ExecutionException {
        CompletableFuture<List<float[]>> future = denoise(spec, progress, cancelled);
        try {
            return future.get();
        } catch (InterruptedException e) {
            future.cancel(true);
            throw e;
        }
    }

    /** Requests waiting or in flight, over all models. */
    int queueDepth();
}
