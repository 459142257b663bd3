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
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The decoder stage in this process: the package's VAE decoder or its consistency decoder (and the VAE
 * encoder, for image-to-image).
 *
 * <p>Pictures of concurrent requests share session calls ({@link CallBatcher}): per model, decoder and latent
 * size, a call takes up to {@code maxImages} pictures and at most {@code maxPixels} output pixels (always at
 * least one picture). The pixel bound is there for the CPU, where batching pays on small pictures only: a
 * 64×64 VAE decode costs about half as much per picture in a batch of 16, while at 256×256 a batch costs more
 * per picture than single calls. The PNG encoding runs on each caller's own thread.
 */
public final class LocalDecoderStage implements DecoderStage {
    /** Most pictures in one decoder call unless configured. */
    public static final int DEFAULT_MAX_IMAGES = 16;
    /** Most output pixels in one decoder call unless configured: sixteen 64×64 pictures, or one 256×256. */
    public static final long DEFAULT_MAX_PIXELS = 16L * 64 * 64;

    private final ModelCatalog catalog;
    private final int maxImages;
    private final long maxPixels;
    private final Map<String, VaeDecoder> decoders = new ConcurrentHashMap<>();
    private final Map<String, VaeEncoder> encoders = new ConcurrentHashMap<>();
    private final Map<String, ConsistencyDecoder> consistencyDecoders = new ConcurrentHashMap<>();
    // one per model and latent size: a batch stacks latents of one shape
    private final Map<String, CallBatcher<float[], RgbImage>> vaeCalls = new ConcurrentHashMap<>();
    private final Map<String, CallBatcher<SeededLatent, RgbImage>> consistencyCalls = new ConcurrentHashMap<>();
    private volatile StageCallObserver observer = StageCallObserver.NONE;

    private record SeededLatent(float[] latent, long seed) {
    }

    public LocalDecoderStage(ModelCatalog catalog) {
        this(catalog, DEFAULT_MAX_IMAGES, DEFAULT_MAX_PIXELS);
    }

    /**
     * @param maxImages most pictures in one decoder call (1: every picture alone)
     * @param maxPixels most output pixels in one decoder call
     */
    public LocalDecoderStage(ModelCatalog catalog, int maxImages, long maxPixels) {
        if (maxImages < 1 || maxPixels < 1) {
            throw new IllegalArgumentException("maxImages and maxPixels must be >= 1, were " + maxImages + " and " + maxPixels);
        }
        this.catalog = catalog;
        this.maxImages = maxImages;
        this.maxPixels = maxPixels;
    }

    /** Told about every decoder call (for metrics and benchmarks). */
    public void observe(StageCallObserver observer) {
        this.observer = observer;
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
        long[] s = spec.latentShape();
        VaeDecoder decoder = decoders.computeIfAbsent(pkg.id(),
                id -> new VaeDecoder(pkg.vaeDecoder(), pkg.layout().scalingFactor()));
        CallBatcher<float[], RgbImage> calls = vaeCalls.computeIfAbsent(key(pkg, s), k ->
                new CallBatcher<>(imagesPerCall(pkg, s), latents -> decoder.decode(FloatTensor.stack(latents, s)),
                        n -> observer.onCall(pkg.id(), n)));
        return pngs(calls.run(spec.latents()), spec);
    }

    /** The consistency decoder runs its steps for a whole batch at once, each picture with its own seed's noise. */
    private List<byte[]> decodeConsistency(ModelPackage pkg, DecodeSpec spec) {
        long[] s = spec.latentShape();
        ConsistencyDecoder decoder = consistencyDecoders.computeIfAbsent(pkg.id(), id -> ConsistencyDecoder.of(pkg));
        CallBatcher<SeededLatent, RgbImage> calls = consistencyCalls.computeIfAbsent(key(pkg, s), k ->
                new CallBatcher<SeededLatent, RgbImage>(imagesPerCall(pkg, s), items -> decoder.decode(
                        FloatTensor.stack(items.stream().map(SeededLatent::latent).toList(), s),
                        items.stream().mapToLong(SeededLatent::seed).toArray()), n -> observer.onCall(pkg.id(), n)));
        List<SeededLatent> items = new ArrayList<>(spec.latents().size());
        for (int i = 0; i < spec.latents().size(); i++) {
            items.add(new SeededLatent(spec.latents().get(i), spec.seeds()[i]));
        }
        return pngs(calls.run(items), spec);
    }

    private static String key(ModelPackage pkg, long[] latentShape) {
        return pkg.id() + "/" + Arrays.toString(latentShape);
    }

    private int imagesPerCall(ModelPackage pkg, long[] latentShape) {
        long factor = pkg.layout().latentFactor();
        long pixels = Math.max(1, latentShape[1] * latentShape[2] * factor * factor);
        return (int) Math.max(1, Math.min(maxImages, maxPixels / pixels));
    }

    private static List<byte[]> pngs(List<RgbImage> images, DecodeSpec spec) {
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
