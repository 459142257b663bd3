package dev.kiln.pipeline.stage;

import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.tensor.FloatTensor;
import dev.kiln.pipeline.text.TextEncoder;
import dev.kiln.pipeline.text.TokenizedPrompt;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The encoder stage in this process: the package's tokenizer and text encoder session. */
public final class LocalEncoderStage implements EncoderStage, AutoCloseable {
    private final ModelCatalog catalog;
    private final Map<String, TextEncoder> encoders = new ConcurrentHashMap<>();

    public LocalEncoderStage(ModelCatalog catalog) {
        this.catalog = catalog;
    }

    @Override
    public Conditioning encode(EncodeSpec spec) {
        ModelPackage pkg = catalog.get(spec.model());
        TextEncoder encoder = encoders.computeIfAbsent(pkg.id(), id -> TextEncoder.of(pkg));
        TokenizedPrompt prompt = encoder.tokenize(spec.prompt());
        if (!spec.guided()) {
            FloatTensor h = encoder.encode(List.of(prompt));
            float[] cond = h.itemData(0);
            return new Conditioning(contextShape(h), cond, cond, null, null, prompt.droppedText(), "");
        }
        TokenizedPrompt negative = encoder.tokenize(spec.negativePrompt() == null ? "" : spec.negativePrompt());
        // [uncond, cond] in one call, as diffusers' pipelines encode them
        FloatTensor h = encoder.encode(List.of(negative, prompt));
        float[] uncond = h.itemData(0);
        float[] cond = h.itemData(1);
        return new Conditioning(contextShape(h), cond, cond, uncond, uncond, prompt.droppedText(),
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
