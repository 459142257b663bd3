package dev.kiln.pipeline.eval;

import dev.kiln.pipeline.tensor.FloatTensor;
import dev.kiln.pipeline.text.TextEncoder;
import dev.kiln.pipeline.text.TokenizedPrompt;
import java.util.ArrayList;
import java.util.List;

/**
 * Sentence embeddings of captions, the way sentence-transformers pools all-MiniLM-L6-v2: the mean of the
 * token states over real tokens (attention mask 1), L2-normalised. The evaluator's image embeddings were
 * trained against exactly these, so retrieval compares like with like.
 */
public final class CaptionEmbedder {
    private static final int BATCH = 64;

    private final TextEncoder encoder;

    public CaptionEmbedder(TextEncoder encoder) {
        this.encoder = encoder;
    }

    /** One unit-length embedding per caption, in order. */
    public float[][] embed(List<String> captions) {
        float[][] out = new float[captions.size()][];
        for (int start = 0; start < captions.size(); start += BATCH) {
            List<TokenizedPrompt> batch = new ArrayList<>();
            for (int i = start; i < Math.min(captions.size(), start + BATCH); i++) {
                batch.add(encoder.tokenize(captions.get(i)));
            }
            FloatTensor h = encoder.encode(batch);
            for (int i = 0; i < batch.size(); i++) {
                out[start + i] = meanPool(h.itemData(i), batch.get(i).attentionMask(), (int) h.shape()[2]);
            }
        }
        return out;
    }

    /** Mean of the rows of {@code states} [L·D] where {@code mask} is 1, scaled to unit length. */
    static float[] meanPool(float[] states, long[] mask, int width) {
        double[] sum = new double[width];
        int count = 0;
        for (int t = 0; t < mask.length; t++) {
            if (mask[t] == 0) {
                continue;
            }
            count++;
            for (int k = 0; k < width; k++) {
                sum[k] += states[t * width + k];
            }
        }
        double norm = 0;
        for (int k = 0; k < width; k++) {
            sum[k] /= Math.max(count, 1);
            norm += sum[k] * sum[k];
        }
        // sentence-transformers' Normalize divides by max(‖x‖, 1e-12)
        double scale = 1 / Math.max(Math.sqrt(norm), 1e-12);
        float[] out = new float[width];
        for (int k = 0; k < width; k++) {
            out[k] = (float) (sum[k] * scale);
        }
        return out;
    }
}
