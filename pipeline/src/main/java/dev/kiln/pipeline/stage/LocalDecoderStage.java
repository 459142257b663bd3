package dev.kiln.pipeline.stage;

import dev.kiln.pipeline.decode.ConsistencyDecoder;
import dev.kiln.pipeline.decode.VaeDecoder;
import dev.kiln.pipeline.decode.VaeEncoder;
import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.image.PngEncoder;
import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.model.OnnxModel;
import dev.kiln.pipeline.noise.NoiseSource;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The decoder stage in this process: the package's VAE decoder or its consistency decoder (and the VAE
 * encoder, for image-to-image).
 */
public final class LocalDecoderStage implements DecoderStage {
    private final ModelCatalog catalog;
    private final Map<String, VaeDecoder> decoders = new ConcurrentHashMap<>();
    private final Map<String, VaeEncoder> encoders = new ConcurrentHashMap<>();
    private final Map<String, ConsistencyDecoder> consistencyDecoders = new ConcurrentHashMap<>();

    public LocalDecoderStage(ModelCatalog catalog) {
        this.catalog = catalog;
    }

    @Override
    public List<byte[]> decode(DecodeSpec spec) {
        ModelPackage pkg = catalog.get(spec.model());
        if (DecodeSpec.CONSISTENCY.equals(spec.decoder()) && pkg.componentPath(ModelPackage.CONSISTENCY_DECODER).isPresent()) {
            return decodeConsistency(pkg, spec);
        }
        if (!DecodeSpec.VAE.equals(spec.decoder())) {
            throw new InvalidRequestException("decoder", "unknown decoder '" + spec.decoder() + "' for model "
                    + pkg.id() + "; this model offers: " + DecodeSpec.VAE);
        }
        VaeDecoder decoder = decoders.computeIfAbsent(pkg.id(),
                id -> new VaeDecoder(pkg.vaeDecoder(), pkg.layout().scalingFactor()));
        long[] shape = {1, spec.latentShape()[0], spec.latentShape()[1], spec.latentShape()[2]};
        List<byte[]> pngs = new ArrayList<>(spec.latents().size());
        for (int i = 0; i < spec.latents().size(); i++) {
            RgbImage image = decoder.decode(new FloatTensor(spec.latents().get(i).clone(), shape)).get(0);
            pngs.add(PngEncoder.encode(image, spec.pngText().get(i)));
        }
        return pngs;
    }

    /** All images of the request in one batch: the decoder runs once per step for all of them. */
    private List<byte[]> decodeConsistency(ModelPackage pkg, DecodeSpec spec) {
        ConsistencyDecoder decoder = consistencyDecoders.computeIfAbsent(pkg.id(), id -> ConsistencyDecoder.of(pkg));
        long[] s = spec.latentShape();
        List<RgbImage> images = decoder.decode(FloatTensor.stack(spec.latents(), s), spec.seeds());
        List<byte[]> pngs = new ArrayList<>(images.size());
        for (int i = 0; i < images.size(); i++) {
            pngs.add(PngEncoder.encode(images.get(i), spec.pngText().get(i)));
        }
        return pngs;
    }

    @Override
    public float[] encodeImage(String model, RgbImage image, long seed) {
        ModelPackage pkg = catalog.get(model);
        VaeEncoder encoder = encoders.computeIfAbsent(pkg.id(), id -> {
            OnnxModel m = pkg.vaeEncoder().orElseThrow(() -> new InvalidRequestException("image",
                    "model " + id + " ships no vae_encoder, so it cannot do image-to-image"));
            return new VaeEncoder(m, pkg.layout().scalingFactor());
        });
        return encoder.encode(image, new NoiseSource(seed, 0)).data();
    }
}
