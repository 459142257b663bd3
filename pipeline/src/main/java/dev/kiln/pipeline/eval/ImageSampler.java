package dev.kiln.pipeline.eval;

import dev.kiln.pipeline.GenerationRequest;
import dev.kiln.pipeline.GenerationSettings;
import dev.kiln.pipeline.decode.ConsistencyDecoder;
import dev.kiln.pipeline.decode.VaeDecoder;
import dev.kiln.pipeline.decode.VaeEncoder;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.noise.NoiseSource;
import dev.kiln.pipeline.stage.Conditioning;
import dev.kiln.pipeline.stage.DecodeSpec;
import dev.kiln.pipeline.stage.DenoiseSpec;
import dev.kiln.pipeline.stage.EncodeSpec;
import dev.kiln.pipeline.stage.LocalDenoiserStage;
import dev.kiln.pipeline.stage.LocalEncoderStage;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Pictures for many prompts at once, for evaluation and sample grids: every prompt is a request of one
 * image with its own seed, all submitted together so the denoiser batches them, then decoded without
 * the PNG round trip. A picture is the same as {@code kiln generate} draws for that prompt and seed.
 */
public final class ImageSampler implements AutoCloseable {
    private static final int DECODE_BATCH = 64;

    private final ModelCatalog catalog;
    private final ModelPackage pkg;
    private final LocalEncoderStage encoder;
    private final LocalDenoiserStage denoiser;
    private VaeDecoder vae;
    private VaeEncoder vaeEncoder;
    private ConsistencyDecoder consistency;

    /**
     * How to sample: null fields take the package's defaults for the UNet, as a request would.
     *
     * @param unet      {@code teacher} or {@code student}, null for the package's default
     * @param decoder   {@link DecodeSpec#VAE} or {@link DecodeSpec#CONSISTENCY}
     */
    public record Setup(String unet, String scheduler, Integer steps, Double guidance, String decoder) {
        public Setup withDecoder(String d) {
            return new Setup(unet, scheduler, steps, guidance, d);
        }
    }

    public ImageSampler(ModelCatalog catalog, String model) {
        this.catalog = catalog;
        this.pkg = catalog.get(model);
        this.encoder = new LocalEncoderStage(catalog);
        // every prompt of a row is in flight at once; rows of 32 keep a small UNet's calls efficient
        this.denoiser = new LocalDenoiserStage(catalog, new DenoiseLoopOptions(32, Duration.ofMillis(5), 100_000));
    }

    public ModelPackage modelPackage() {
        return pkg;
    }

    /** The settings a request for {@code prompt} with {@code setup} resolves to (defaults filled in, checked). */
    public GenerationSettings settings(String prompt, long seed, Setup setup) {
        GenerationRequest r = GenerationRequest.builder(prompt).model(pkg.id()).unet(setup.unet())
                .scheduler(setup.scheduler()).steps(setup.steps()).guidance(setup.guidance()).seed(seed)
                .decoder(setup.decoder()).build();
        return GenerationSettings.resolve(r, pkg);
    }

    /** Final latents (scaled, as the sampler leaves them) of one image per prompt, prompt i with seeds[i]. */
    public List<float[]> latents(List<String> prompts, long[] seeds, Setup setup) {
        List<CompletableFuture<List<float[]>>> futures = new ArrayList<>(prompts.size());
        for (int i = 0; i < prompts.size(); i++) {
            GenerationSettings s = settings(prompts.get(i), seeds[i], setup);
            Conditioning c = encoder.encode(new EncodeSpec(s.model(), s.prompt(), s.negativePrompt(), s.guided()));
            futures.add(denoiser.denoise(new DenoiseSpec(s.model(), c, s.width(), s.height(), s.steps(), s.scheduler(),
                    s.guidance(), new long[] {s.seed()}, null, 1.0, s.unet()), DenoiseProgress.NONE, () -> false));
        }
        List<float[]> out = new ArrayList<>(prompts.size());
        for (CompletableFuture<List<float[]>> f : futures) {
            try {
                out.add(f.get().get(0));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while sampling", e);
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
            }
        }
        return out;
    }

    /** One picture per prompt. */
    public List<RgbImage> sample(List<String> prompts, long[] seeds, Setup setup) {
        String decoder = setup.decoder() == null ? DecodeSpec.VAE : setup.decoder();
        return decode(latents(prompts, seeds, setup), seeds, decoder);
    }

    /** Decodes scaled latents with the VAE or the consistency decoder (whose noise comes from seeds[i]). */
    public List<RgbImage> decode(List<float[]> latents, long[] seeds, String decoder) {
        long[] shape = latentShape();
        List<RgbImage> out = new ArrayList<>(latents.size());
        for (int start = 0; start < latents.size(); start += DECODE_BATCH) {
            int end = Math.min(latents.size(), start + DECODE_BATCH);
            FloatTensor batch = FloatTensor.stack(latents.subList(start, end), shape);
            if (DecodeSpec.CONSISTENCY.equals(decoder)) {
                out.addAll(consistency().decode(batch, java.util.Arrays.copyOfRange(seeds, start, end)));
            } else if (DecodeSpec.VAE.equals(decoder)) {
                out.addAll(vae().decode(batch));
            } else {
                throw new InvalidRequestException("decoder", "unknown decoder '" + decoder + "'");
            }
        }
        return out;
    }

    /** Scaled VAE latents of real pictures, the posterior sample of picture i drawn with seeds[i]. */
    public List<float[]> encode(List<RgbImage> images, long[] seeds) {
        VaeEncoder e = vaeEncoder();
        List<float[]> out = new ArrayList<>(images.size());
        for (int i = 0; i < images.size(); i++) {
            out.add(e.encode(images.get(i), new NoiseSource(seeds[i], 0)).data());
        }
        return out;
    }

    private long[] latentShape() {
        int side = pkg.layout().imageSize() / pkg.layout().latentFactor();
        return new long[] {pkg.layout().latentChannels(), side, side};
    }

    private synchronized VaeDecoder vae() {
        if (vae == null) {
            vae = new VaeDecoder(pkg.vaeDecoder(), pkg.layout().scalingFactor());
        }
        return vae;
    }

    private synchronized VaeEncoder vaeEncoder() {
        if (vaeEncoder == null) {
            vaeEncoder = new VaeEncoder(pkg.vaeEncoder().orElseThrow(() -> new IllegalArgumentException(
                    "model " + pkg.id() + " ships no vae_encoder, so real pictures cannot be reconstructed")),
                    pkg.layout().scalingFactor());
        }
        return vaeEncoder;
    }

    private synchronized ConsistencyDecoder consistency() {
        if (consistency == null) {
            consistency = ConsistencyDecoder.of(pkg);
        }
        return consistency;
    }

    public ModelCatalog catalog() {
        return catalog;
    }

    @Override
    public void close() {
        denoiser.close();
        encoder.close();
    }
}
