package dev.kiln.encoder;

import dev.kiln.protocol.v1.EncodeRequest;
import dev.kiln.protocol.v1.EncodeResponse;
import dev.kiln.protocol.v1.Encoder;
import dev.kiln.service.ModelStatus;
import dev.kiln.service.RequestChecks;
import dev.kiln.service.StageQueue;
import dev.kiln.service.StageState;
import io.grpc.Status;
import io.quarkus.grpc.GrpcService;
import io.smallrye.mutiny.Uni;

/**
 * {@code kiln.v1.Encoder}: the checks every request passes, in the order a client needs them. No model
 * means UNAVAILABLE (another replica may have one), a model this replica does not serve means NOT_FOUND,
 * a malformed request INVALID_ARGUMENT. A request that passes all three is answered UNIMPLEMENTED: this
 * build has no text encoder to run it on.
 */
@GrpcService
public class EncoderGrpcService implements Encoder {

    private final StageState state;
    private final StageQueue queue;

    EncoderGrpcService(StageState state, StageQueue queue) {
        this.state = state;
        this.queue = queue;
    }

    @Override
    public Uni<EncodeResponse> encode(EncodeRequest request) {
        return queue.track(() -> {
            ModelStatus model = state.requireModel(request.getModelId());
            check(request);
            return Uni.createFrom().failure(Status.UNIMPLEMENTED
                    .withDescription("text encoding is not part of this encoder-service build: model '"
                            + model.modelId() + "' is found in " + model.dir() + " but no text encoder runs it")
                    .asRuntimeException());
        });
    }

    static void check(EncodeRequest request) {
        RequestChecks.require(request.getPromptsCount() > 0, "prompts is empty");
        RequestChecks.require(request.getNegativePromptsCount() == 0
                        || request.getNegativePromptsCount() == request.getPromptsCount(),
                "negative_prompts must be empty or one per prompt: " + request.getNegativePromptsCount()
                        + " for " + request.getPromptsCount() + " prompts");
        RequestChecks.hypernetworks(request.getHypernetworksList());
        for (String embedding : request.getEmbeddingsList()) {
            RequestChecks.require(!embedding.isBlank(), "embedding name is empty");
        }
    }
}
