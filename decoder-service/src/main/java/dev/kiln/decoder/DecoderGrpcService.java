package dev.kiln.decoder;

import dev.kiln.protocol.v1.DecodeRequest;
import dev.kiln.protocol.v1.DecodeResponse;
import dev.kiln.protocol.v1.Decoder;
import dev.kiln.protocol.v1.EncodeImageRequest;
import dev.kiln.protocol.v1.EncodeImageResponse;
import dev.kiln.protocol.v1.ImageFormat;
import dev.kiln.service.ModelStatus;
import dev.kiln.service.StageQueue;
import dev.kiln.service.StageState;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Uni;

import static dev.kiln.service.RequestChecks.imageSize;
import static dev.kiln.service.RequestChecks.require;
import static dev.kiln.service.RequestChecks.tensor;

/**
 * {@code kiln.v1.Decoder}: UNAVAILABLE without a model, NOT_FOUND for a model this replica does not serve,
 * INVALID_ARGUMENT for a malformed request, and UNIMPLEMENTED for a valid one, since this build has no
 * VAE to run it on. Both calls count in the one decoder queue: they share the same sessions.
 */
@GrpcService
public class DecoderGrpcService implements Decoder {

    private final StageState state;
    private final StageQueue queue;

    DecoderGrpcService(StageState state, StageQueue queue) {
        this.state = state;
        this.queue = queue;
    }

    @Override
    public Uni<DecodeResponse> decode(DecodeRequest request) {
        return queue.track(() -> {
            ModelStatus model = state.requireModel(request.getModelId());
            checkDecode(request);
            return Uni.createFrom().failure(notInThisBuild("decoding", model));
        });
    }

    @Override
    public Uni<EncodeImageResponse> encodeImage(EncodeImageRequest request) {
        return queue.track(() -> {
            ModelStatus model = state.requireModel(request.getModelId());
            checkEncodeImage(request);
            return Uni.createFrom().failure(notInThisBuild("image encoding", model));
        });
    }

    static void checkDecode(DecodeRequest request) {
        long batch = tensor("latents", request.hasLatents(), request.getLatents(), 4)[0];
        require(batch > 0, "latents has an empty batch");
        require(request.getFormat() == ImageFormat.PNG || request.getFormat() == ImageFormat.IMAGE_FORMAT_UNSPECIFIED,
                "format " + request.getFormat() + " is not supported; PNG is");
        require(request.getParametersCount() == 0 || request.getParametersCount() == batch,
                "parameters must be empty or one per image: " + request.getParametersCount() + " for " + batch);
        require(request.getSeedsCount() == 0 || request.getSeedsCount() == batch,
                "seeds must be empty or one per image: " + request.getSeedsCount() + " for " + batch);
    }

    static void checkEncodeImage(EncodeImageRequest request) {
        require(request.getImagesCount() > 0, "images is empty");
        for (int i = 0; i < request.getImagesCount(); i++) {
            require(!request.getImages(i).isEmpty(), "images[" + i + "] is empty");
        }
        imageSize(request.getWidth(), request.getHeight());
        require(request.getSeedsCount() == 0 || request.getSeedsCount() == request.getImagesCount(),
                "seeds must be empty or one per image: " + request.getSeedsCount() + " for " + request.getImagesCount());
    }

    private static StatusRuntimeException notInThisBuild(String what, ModelStatus model) {
        return Status.UNIMPLEMENTED
                .withDescription(what + " is not part of this decoder-service build: model '" + model.modelId()
                        + "' is found in " + model.dir() + " but no VAE runs it")
                .asRuntimeException();
    }
}
