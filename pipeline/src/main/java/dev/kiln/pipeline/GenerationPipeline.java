package dev.kiln.pipeline;

import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.error.DeadlineExceededException;
import dev.kiln.pipeline.error.StageUnavailableException;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.stage.Conditioning;
import dev.kiln.pipeline.stage.DecodeSpec;
import dev.kiln.pipeline.stage.DecoderStage;
import dev.kiln.pipeline.stage.DenoiseSpec;
import dev.kiln.pipeline.stage.DenoiserStage;
import dev.kiln.pipeline.stage.EncodeSpec;
import dev.kiln.pipeline.stage.EncoderStage;
import dev.kiln.pipeline.stage.LocalDecoderStage;
import dev.kiln.pipeline.stage.LocalDenoiserStage;
import dev.kiln.pipeline.stage.LocalEncoderStage;
import dev.kiln.pipeline.stage.RequestDeadline;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.function.BooleanSupplier;

/**
 * Prompt to PNG: checks a request, then takes it through the encoder, denoiser and decoder stages,
 * whether those run in this process ({@link #embedded}) or behind gRPC.
 */
public final class GenerationPipeline implements AutoCloseable {
    private final ModelCatalog catalog;
    private final EncoderStage encoder;
    private final DenoiserStage denoiser;
    private final DecoderStage decoder;
    private final List<AutoCloseable> owned = new ArrayList<>();

    public GenerationPipeline(ModelCatalog catalog, EncoderStage encoder, DenoiserStage denoiser, DecoderStage decoder) {
        this.catalog = catalog;
        this.encoder = encoder;
        this.denoiser = denoiser;
        this.decoder = decoder;
    }

    /** Every stage in this process, sharing the catalog's sessions. Closing the pipeline closes them. */
    public static GenerationPipeline embedded(ModelCatalog catalog, DenoiseLoopOptions options) {
        return embedded(catalog, options, LocalEncoderStage.DEFAULT_MAX_ROWS, LocalDecoderStage.DEFAULT_MAX_IMAGES);
    }

    /**
     * Every stage in this process, with at most {@code encoderRows} prompts per text encoder call and
     * {@code decoderImages} pictures per decoder call shared between concurrent requests (1 and 1: none shared).
     */
    public static GenerationPipeline embedded(ModelCatalog catalog, DenoiseLoopOptions options, int encoderRows,
                                              int decoderImages) {
        LocalEncoderStage enc = new LocalEncoderStage(catalog, encoderRows);
        LocalDenoiserStage den = new LocalDenoiserStage(catalog, options);
        GenerationPipeline p = new GenerationPipeline(catalog, enc, den,
                new LocalDecoderStage(catalog, decoderImages, LocalDecoderStage.DEFAULT_MAX_PIXELS));
        p.owned.add(den);
        p.owned.add(enc);
        return p;
    }

    public ModelCatalog catalog() {
        return catalog;
    }

    public DenoiserStage denoiser() {
        return denoiser;
    }

    /** The decoder stage, also used for progress previews of latents still being denoised. */
    public DecoderStage decoder() {
        return decoder;
    }

    /** Checks a request and fills in its defaults without running it. */
    public GenerationSettings resolve(GenerationRequest request) {
        GenerationRequest r = request.withUNetFromModel();
        ModelPackage pkg = catalog.get(r.model());
        return GenerationSettings.resolve(r, pkg);
    }

    public GenerationResult generate(GenerationRequest request) {
        return generate(resolve(request), DenoiseProgress.NONE, () -> false);
    }

    public GenerationResult generate(GenerationRequest request, DenoiseProgress progress) {
        return generate(resolve(request), progress, () -> false);
    }

    /**
     * Runs checked settings through the stages.
     *
     * @param cancelled polled between denoising steps; once true the request leaves its batch and this
     *                  method throws {@link CancellationException}
     */
    public GenerationResult generate(GenerationSettings s, DenoiseProgress progress, BooleanSupplier cancelled) {
        return run(s, progress, cancelled, null);
    }

    /**
     * Runs checked settings through the stages, giving up at {@code deadline}: the deadline is checked
     * between stages, an in-process denoiser drops the request at its next step, and remote stages get it
     * with each call ({@link RequestDeadline}).
     *
     * @throws DeadlineExceededException once the deadline has passed
     * @throws CancellationException when {@code cancelled} turned true first
     */
    public GenerationResult generate(GenerationSettings s, DenoiseProgress progress, BooleanSupplier cancelled,
                                     Instant deadline) {
        try {
            return RequestDeadline.within(deadline, () -> run(s, progress,
                    () -> cancelled.getAsBoolean() || !Instant.now().isBefore(deadline), deadline));
        } catch (CancellationException e) {
            if (!Instant.now().isBefore(deadline) && !cancelled.getAsBoolean()) {
                throw expired("denoiser", deadline, e);
            }
            throw e;
        }
    }

    private static DeadlineExceededException expired(String stage, Instant deadline, Throwable cause) {
        return new DeadlineExceededException(stage, "the request did not finish within its deadline ("
                + deadline + "); it was stopped before the " + stage + " was done. Retry later, with fewer steps"
                + " or images, or with a longer timeout", cause);
    }

    private static void check(Instant deadline, String next) {
        if (deadline != null && !Instant.now().isBefore(deadline)) {
            throw expired(next, deadline, null);
        }
    }

    private GenerationResult run(GenerationSettings s, DenoiseProgress progress, BooleanSupplier cancelled,
                                 Instant deadline) {
        long t0 = System.nanoTime();
        check(deadline, "encoder");
        Conditioning c = encoder.encode(new EncodeSpec(s.model(), s.prompt(), s.negativePrompt(), s.guided()));
        List<String> warnings = new ArrayList<>();
        if (!c.promptDropped().isEmpty()) {
            warnings.add("the prompt is longer than the model reads; this part was ignored: \"" + c.promptDropped() + "\"");
        }
        if (!c.negativeDropped().isEmpty()) {
            warnings.add("the negative prompt is longer than the model reads; this part was ignored: \""
                    + c.negativeDropped() + "\"");
        }
        long[] seeds = s.seeds();
        float[][] init = null;
        if (s.initImage() != null) {
            init = new float[seeds.length][];
            for (int i = 0; i < seeds.length; i++) {
                init[i] = decoder.encodeImage(s.model(), s.initImage(), seeds[i]);
            }
        }
        long t1 = System.nanoTime();
        check(deadline, "denoiser");
        List<float[]> latents = denoised(new DenoiseSpec(s.model(), c, s.width(), s.height(), s.steps(),
                s.scheduler(), s.guidance(), seeds, init, s.strength(), s.unet()), progress, cancelled);
        long t2 = System.nanoTime();
        ModelPackage pkg = catalog.get(s.model());
        int f = pkg.layout().latentFactor();
        long[] latentShape = {pkg.layout().latentChannels(), s.height() / f, s.width() / f};
        List<Map<String, String>> texts = new ArrayList<>();
        for (int i = 0; i < seeds.length; i++) {
            texts.add(Map.of("parameters", s.infotext(i)));
        }
        check(deadline, "decoder");
        List<byte[]> pngs = decoder.decode(new DecodeSpec(s.model(), latents, latentShape, s.decoder(), texts, seeds));
        long t3 = System.nanoTime();
        List<GeneratedImage> images = new ArrayList<>();
        for (int i = 0; i < pngs.size(); i++) {
            images.add(new GeneratedImage(i, seeds[i], pngs.get(i), texts.get(i).get("parameters")));
        }
        return new GenerationResult(s, images, warnings, t1 - t0, t2 - t1, t3 - t2);
    }

    private List<float[]> denoised(DenoiseSpec spec, DenoiseProgress progress, BooleanSupplier cancelled) {
        try {
            return denoiser.denoiseAndWait(spec, progress, cancelled);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted while denoising");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            throw new StageUnavailableException("denoiser", "denoising failed: " + cause, cause);
        }
    }

    @Override
    public void close() {
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                // closing is best effort; one stage failing to close must not keep the others open
            }
        }
    }
}
