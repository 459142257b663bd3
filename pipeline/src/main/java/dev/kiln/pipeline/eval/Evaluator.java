package dev.kiln.pipeline.eval;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.kiln.pipeline.error.ModelLoadException;
import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.model.OnnxModel;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.util.List;
import java.util.Map;

/**
 * The package's judge ({@code evaluator/model.onnx}): an image encoder trained contrastively against the
 * caption embeddings of {@link CaptionEmbedder}, with a style head. Input {@code image} [B, 3, H, W] in
 * [−1, 1]; outputs {@code image_embedding} [B, D] (unit length) and {@code style_logits} [B, S].
 */
public final class Evaluator {
    /** The style head's classes, in the order of its logits. */
    public static final List<String> STYLES = List.of("noto", "fluent", "twemoji");
    private static final int BATCH = 64;

    private final OnnxModel model;

    /** Embeddings and style logits of a set of pictures, one row per picture. */
    public record Judgement(float[][] embeddings, float[][] styleLogits) {
    }

    public Evaluator(OnnxModel model) {
        this.model = model;
        model.input("image");
        for (String o : List.of("image_embedding", "style_logits")) {
            if (!model.outputs().containsKey(o)) {
                throw new ModelLoadException(model.label() + " has no output '" + o + "' (outputs: "
                        + model.outputs().keySet() + ")");
            }
        }
    }

    public Judgement judge(List<RgbImage> images) {
        float[][] emb = new float[images.size()][];
        float[][] logits = new float[images.size()][];
        for (int start = 0; start < images.size(); start += BATCH) {
            List<RgbImage> batch = images.subList(start, Math.min(images.size(), start + BATCH));
            RgbImage first = batch.get(0);
            long[] shape = {batch.size(), 3, first.height(), first.width()};
            Map<String, FloatTensor> out;
            try {
                OnnxTensor in = model.floatInput("image", batch.stream().map(RgbImage::toSignedPlanar).toList(), shape);
                out = model.run(Map.of("image", in), "image_embedding", "style_logits");
            } catch (OrtException e) {
                throw new ModelLoadException(model.label() + ": cannot build inputs: " + e.getMessage(), e);
            }
            for (int i = 0; i < batch.size(); i++) {
                emb[start + i] = out.get("image_embedding").itemData(i);
                logits[start + i] = out.get("style_logits").itemData(i);
            }
        }
        return new Judgement(emb, logits);
    }

    /** Index of {@code style} in the style head's output. */
    public static int styleIndex(String style) {
        int i = STYLES.indexOf(style);
        if (i < 0) {
            throw new IllegalArgumentException("unknown style '" + style + "'; the evaluator knows " + STYLES);
        }
        return i;
    }
}
