package dev.kiln.pipeline.stage;

import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.tensor.FloatTensor;
import dev.kiln.pipeline.text.TextEncoder;
import dev.kiln.pipeline.text.TokenizedPrompt;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The encoder stage in this process: the package's tokenizer and text encoder session.
 *
 * <p>Prompts are tokenized on the caller's thread; the prompts of concurrent requests then share text encoder
 * calls ({@link CallBatcher}), up to {@code maxRows} prompts per call (a guided request brings two, its
 * negative prompt and its prompt).
 *
 * <p>The states of each model's last {@value TextEncoder#KEPT_PROMPTS} negative prompts are kept
 * ({@link TextEncoder#keep}): nearly every guided request brings the empty one or one of a front end's stock
 * ones, so a request found there costs one text encoder row instead of two (on Stable Diffusion's CLIP that is
 * a whole encoder pass), and its unconditional rows are the same array from request to request, which the
 * denoiser then does not copy again.
 * The states depend only on the model and the text (they do not depend on the batch that computed them,
 * SharedStageCallsTest); an adapter that changes the text encoder's output would have to be part of the key.
 */
public final class LocalEncoderStage implements EncoderStage, AutoCloseable {
    /** Most prompts in one text encoder call unless configured. */
    public static final int DEFAULT_MAX_ROWS = 16;

    private final ModelCatalog catalog;
    private final int maxRows;
    private final Map<String, TextEncoder> encoders = new ConcurrentHashMap<>();
    private final Map<String, CallBatcher<TokenizedPrompt, FloatTensor>> calls = new ConcurrentHashMap<>();
    private volatile StageCallObserver observer = StageCallObserver.NONE;

    public LocalEncoderStage(ModelCatalog catalog) {
        this(catalog, DEFAULT_MAX_ROWS);
    }

    /** @param maxRows most prompts in one text encoder call (1: every prompt alone) */
    public LocalEncoderStage(ModelCatalog catalog, int maxRows) {
        if (maxRows < 1) {
            throw new IllegalArgumentException("maxRows must be >= 1, was " + maxRows);
        }
        this.catalog = catalog;
        this.maxRows = maxRows;
    }

    /** Told about every text encoder call (for metrics and benchmarks). */
    public void observe(StageCallObserver observer) {
        this.observer = observer;
    }

    @Override
    public Conditioning encode(EncodeSpec spec) {
        ModelPackage pkg = catalog.get(spec.model());
        TextEncoder encoder = encoders.computeIfAbsent(pkg.id(), id -> TextEncoder.of(pkg));
        CallBatcher<TokenizedPrompt, FloatTensor> batcher = calls.computeIfAbsent(pkg.id(), id -> new CallBatcher<>(maxRows,
                encoder::encodeEach, n -> observer.onCall(id, n)));
        TokenizedPrompt prompt = encoder.tokenize(spec.prompt());
        if (!spec.guided()) {
            FloatTensor h = batcher.run(List.of(prompt)).get(0);
            float[] cond = h.data();
            return new Conditioning(contextShape(h), cond, cond, null, null, prompt.droppedText(), "");
        }
        String negativeText = spec.negativePrompt() == null ? "" : spec.negativePrompt();
        TextEncoder.Kept known = encoder.kept(negativeText);
        if (known != null) {
            FloatTensor h = batcher.run(List.of(prompt)).get(0);
            float[] cond = h.data();
            float[] uncond = known.states().data();
            return new Conditioning(contextShape(h), cond, cond, uncond, uncond, prompt.droppedText(),
                    known.prompt().droppedText());
        }
        TokenizedPrompt negative = encoder.tokenize(negativeText);
        // [uncond, cond], as diffusers' pipelines encode them
        List<FloatTensor> h = batcher.run(List.of(negative, prompt));
        encoder.keep(negative, h.get(0));
        float[] uncond = h.get(0).data();
        float[] cond = h.get(1).data();
        return new Conditioning(contextShape(h.get(1)), cond, cond, uncond, uncond, prompt.droppedText(),
                negative.droppedText());
    }

    private static long[] contextShape(FloatTensor h) {
        return new long[] {h.shape()[1], h.shape()[2]};
    }

    @Override
    public void close() {
        encoders.values().forEach(TextEncoder::close);
        encoders.clear();
    }
}
