package dev.kiln.pipeline.stage;

import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.tensor.FloatTensor;
import dev.kiln.pipeline.text.TextEncoder;
import dev.kiln.pipeline.text.TokenizedPrompt;
import java.util.LinkedHashMap;
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
 * <p>The states of the last {@value #REMEMBERED_NEGATIVES} negative prompts of each model are kept: nearly every
 * guided request brings the empty one or one of a front end's stock ones, so a request found here costs one
 * text encoder row instead of two (on Stable Diffusion's CLIP that is a whole encoder pass), and its
 * unconditional rows are the same array from request to request, which the denoiser then does not copy again.
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
    static final int REMEMBERED_NEGATIVES = 32;
    private final Map<String, Map<String, Negative>> negatives = new ConcurrentHashMap<>();

    /** A negative prompt's states and the part of it that did not fit. */
    private record Negative(float[] states, String dropped) {
    }

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
        Map<String, Negative> known = negatives.computeIfAbsent(pkg.id(), id -> recentFirst());
        Negative remembered;
        synchronized (known) {
            remembered = known.get(negativeText);
        }
        if (remembered != null) {
            FloatTensor h = batcher.run(List.of(prompt)).get(0);
            float[] cond = h.data();
            return new Conditioning(contextShape(h), cond, cond, remembered.states(), remembered.states(),
                    prompt.droppedText(), remembered.dropped());
        }
        TokenizedPrompt negative = encoder.tokenize(negativeText);
        // [uncond, cond], as diffusers' pipelines encode them
        List<FloatTensor> h = batcher.run(List.of(negative, prompt));
        float[] uncond = h.get(0).data();
        float[] cond = h.get(1).data();
        synchronized (known) {
            known.putIfAbsent(negativeText, new Negative(uncond, negative.droppedText()));
        }
        return new Conditioning(contextShape(h.get(1)), cond, cond, uncond, uncond, prompt.droppedText(),
                negative.droppedText());
    }

    private static Map<String, Negative> recentFirst() {
        return new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Negative> eldest) {
                return size() > REMEMBERED_NEGATIVES;
            }
        };
    }

    private static long[] contextShape(FloatTensor h) {
        return new long[] {h.shape()[1], h.shape()[2]};
    }

    @Override
    public void close() {
        encoders.values().forEach(TextEncoder::close);
        encoders.clear();
        negatives.clear();
    }
}
