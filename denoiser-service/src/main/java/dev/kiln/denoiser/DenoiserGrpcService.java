package dev.kiln.denoiser;

import dev.kiln.protocol.v1.Conditioning;
import dev.kiln.protocol.v1.DenoiseEvent;
import dev.kiln.protocol.v1.DenoiseRequest;
import dev.kiln.protocol.v1.Denoiser;
import dev.kiln.service.ModelStatus;
import dev.kiln.service.StageQueue;
import dev.kiln.service.StageState;
import io.grpc.Status;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Multi;

import java.util.Arrays;

import static dev.kiln.service.RequestChecks.hypernetworks;
import static dev.kiln.service.RequestChecks.imageSize;
import static dev.kiln.service.RequestChecks.require;
import static dev.kiln.service.RequestChecks.tensor;

/**
 * {@code kiln.v1.Denoiser}: UNAVAILABLE without a model, NOT_FOUND for a model this replica does not serve,
 * INVALID_ARGUMENT for a malformed request, and UNIMPLEMENTED for a valid one, since this build has no
 * denoising loop to run it on. The stream counts as one queued request until it ends or is cancelled.
 */
@GrpcService
public class DenoiserGrpcService implements Denoiser {

    /** More steps than any scheduler's training schedule has timesteps is a client bug, not a request. */
    static final int MAX_STEPS = 1000;

    private final StageState state;
    private final StageQueue queue;

    DenoiserGrpcService(StageState state, StageQueue queue) {
        this.state = state;
        this.queue = queue;
    }

    @Override
    public Multi<DenoiseEvent> denoise(DenoiseRequest request) {
        return queue.trackStream(() -> {
            ModelStatus model = state.requireModel(request.getModelId());
            check(request);
            return Multi.createFrom().failure(Status.UNIMPLEMENTED
                    .withDescription("denoising is not part of this denoiser-service build: model '"
                            + model.modelId() + "' is found in " + model.dir() + " but no UNet runs it")
                    .asRuntimeException());
        });
    }

    static void check(DenoiseRequest request) {
        long batch = conditioning("cond", request.hasCond(), request.getCond());
        // classifier-free guidance needs the unconditional side; guidance 1 (or 0) is the plain prediction
        if (request.getGuidanceScale() > 1f || request.hasUncond()) {
            long uncondBatch = conditioning("uncond", request.hasUncond(), request.getUncond());
            require(uncondBatch == batch, "uncond batch " + uncondBatch + " differs from cond batch " + batch);
        }
        require(request.getSeedsCount() == batch,
                "seeds must be one per image: " + request.getSeedsCount() + " for a batch of " + batch);
        imageSize(request.getWidth(), request.getHeight());
        require(request.getSteps() >= 1 && request.getSteps() <= MAX_STEPS,
                "steps must be between 1 and " + MAX_STEPS + ", got " + request.getSteps());
        require(Float.isFinite(request.getGuidanceScale()) && request.getGuidanceScale() >= 0f,
                "guidance_scale must be a finite number >= 0, got " + request.getGuidanceScale());
        require(request.getPreviewEvery() >= 0, "preview_every must be >= 0, got " + request.getPreviewEvery());
        if (request.hasInitLatents()) {
            long[] latents = tensor("init_latents", true, request.getInitLatents(), 4);
            require(latents[0] == batch, "init_latents batch " + latents[0] + " differs from cond batch " + batch);
            require(request.getStrength() > 0f && request.getStrength() <= 1f,
                    "strength must be in (0, 1] for img2img, got " + request.getStrength());
        }
        hypernetworks(request.getHypernetworksList());
    }

    /** Checks one side of the guidance pair and returns its batch size. */
    private static long conditioning(String field, boolean present, Conditioning conditioning) {
        require(present, field + " is missing");
        long[] k = tensor(field + ".context_k", conditioning.hasContextK(), conditioning.getContextK(), 3);
        long[] v = tensor(field + ".context_v", conditioning.hasContextV(), conditioning.getContextV(), 3);
        require(Arrays.equals(k, v), field + ".context_k " + Arrays.toString(k) + " and context_v "
                + Arrays.toString(v) + " differ in shape");
        require(k[0] > 0, field + " has an empty batch");
        return k[0];
    }
}
