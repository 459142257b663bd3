package dev.kiln.protocol.client;

import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.protocol.ConditioningMemory;
import java.time.Duration;
import java.util.List;

/**
 * The three stages behind gRPC: the distributed wiring of a {@link GenerationPipeline}.
 *
 * @see #pipeline(ModelCatalog)
 */
public final class RemoteStages implements AutoCloseable {
    private final StageChannel encoderChannel;
    private final StageChannel denoiserChannel;
    private final StageChannel decoderChannel;
    private final GrpcEncoderStage encoder;
    private final GrpcDenoiserStage denoiser;
    private final GrpcDecoderStage decoder;

    /**
     * @param defaultTimeout deadline of calls made without a request deadline bound
     */
    public RemoteStages(String encoderAddress, String denoiserAddress, String decoderAddress, Duration defaultTimeout) {
        this.encoderChannel = new StageChannel("encoder", encoderAddress, defaultTimeout);
        this.denoiserChannel = new StageChannel("denoiser", denoiserAddress, defaultTimeout);
        this.decoderChannel = new StageChannel("decoder", decoderAddress, defaultTimeout);
        // what the encoder sends under refs, the denoiser client can send by ref
        ConditioningMemory conditioning = new ConditioningMemory();
        this.encoder = new GrpcEncoderStage(encoderChannel, conditioning);
        this.denoiser = new GrpcDenoiserStage(denoiserChannel, conditioning);
        this.decoder = new GrpcDecoderStage(decoderChannel);
    }

    /**
     * A pipeline over these stages. The catalog is read for request defaults and latent sizes only; the
     * work runs in the stage services.
     */
    public GenerationPipeline pipeline(ModelCatalog catalog) {
        return new GenerationPipeline(catalog, encoder, denoiser, decoder);
    }

    public List<StageChannel> channels() {
        return List.of(encoderChannel, denoiserChannel, decoderChannel);
    }

    public GrpcDenoiserStage denoiser() {
        return denoiser;
    }

    @Override
    public void close() {
        denoiser.close();
        channels().forEach(StageChannel::close);
    }
}
