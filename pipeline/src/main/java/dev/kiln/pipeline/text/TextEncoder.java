package dev.kiln.pipeline.text;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.kiln.pipeline.error.ModelLoadException;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.model.OnnxModel;
import dev.kiln.pipeline.model.PinnedTensor;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Prompts to hidden states: the tokenizer and the text encoder session of one model package.
 *
 * <p>Feeds whatever the export asks for ({@code input_ids} as int32 or int64, and
 * {@code attention_mask} / {@code token_type_ids} for BERT-style encoders) and returns the hidden
 * state output named by the package ({@code last_hidden_state} by default), shape [B, L, D].
 */
public final class TextEncoder implements AutoCloseable {
    /** How many prompts' states {@link #keep} holds, the least recently asked for going first. */
    public static final int KEPT_PROMPTS = 32;

    /** A prompt and its hidden states [1, L, D], as {@link #keep} was given them. */
    public record Kept(TokenizedPrompt prompt, FloatTensor states) {
    }

    private final PromptTokenizer tokenizer;
    private final OnnxModel model;
    private final String output;
    private final RecentlyUsed<Kept> kept = new RecentlyUsed<>(KEPT_PROMPTS);
    /** [L, D], learnt from the first call; then the pinned output can be shaped. */
    private long[] rowShape;
    private PinnedTensor pinned;
    private boolean pinnedUnavailable;

    public TextEncoder(PromptTokenizer tokenizer, OnnxModel model, String output) {
        this.tokenizer = tokenizer;
        this.model = model;
        this.output = output;
    }

    public static TextEncoder of(ModelPackage pkg) {
        return new TextEncoder(PromptTokenizer.load(pkg.tokenizerDir(), pkg.layout().maxTokens()),
                pkg.textEncoder(), pkg.hiddenStateOutput());
    }

    public PromptTokenizer tokenizer() {
        return tokenizer;
    }

    public TokenizedPrompt tokenize(String prompt) {
        return tokenizer.tokenize(prompt);
    }

    /** Hidden states for already tokenized prompts, one batch item per prompt. */
    public FloatTensor encode(List<TokenizedPrompt> prompts) {
        return model.run(inputs(prompts), output).get(output);
    }

    /**
     * Hidden states as one [1, L, D] tensor per prompt, for a caller that hands each prompt's states to a
     * different request. ONNX Runtime writes them into memory this encoder keeps from call to call, and each
     * prompt's array is copied from there once: the general path's fresh output buffer and the split into
     * items would copy the [B, 77, 768] states of Stable Diffusion twice more. Calls are serialised.
     */
    public synchronized List<FloatTensor> encodeEach(List<TokenizedPrompt> prompts) {
        int b = prompts.size();
        if (rowShape == null || pinnedUnavailable) {
            FloatTensor h = encode(prompts);
            rowShape = Arrays.copyOfRange(h.shape(), 1, h.shape().length);
            List<FloatTensor> items = new ArrayList<>(b);
            for (int i = 0; i < b; i++) {
                items.add(h.item(i));
            }
            return items;
        }
        if (pinned == null || pinned.capacity() < b) {
            int capacity = Math.max(b, pinned == null ? 2 : 2 * pinned.capacity());
            if (pinned != null) {
                pinned.close();
            }
            pinned = model.pinnedOutput(output, rowShape, capacity).orElse(null);
            if (pinned == null) {
                pinnedUnavailable = true;
                return encodeEach(prompts);
            }
        }
        Map<String, OnnxTensor> feed = inputs(prompts);
        try {
            model.runPinned(feed, Map.of(output, pinned.view(b)));
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
        long[] itemShape = new long[rowShape.length + 1];
        itemShape[0] = 1;
        System.arraycopy(rowShape, 0, itemShape, 1, rowShape.length);
        int size = pinned.rowSize();
        List<FloatTensor> items = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            float[] row = new float[size];
            pinned.get(i * size, row, 0, size);
            items.add(new FloatTensor(row, itemShape.clone()));
        }
        return items;
    }

    /**
     * Holds the states of {@code prompt} for {@link #kept}, for a caller that knows the prompt will come back
     * (the encoder stage keeps negative prompts). The states must not be modified: callers get the same arrays.
     */
    public void keep(TokenizedPrompt prompt, FloatTensor states) {
        kept.putIfAbsent(prompt.text(), new Kept(prompt, states));
    }

    /** The prompt with this text and its states, if {@link #keep} holds them; else null. */
    public Kept kept(String text) {
        return kept.get(text);
    }

    private Map<String, OnnxTensor> inputs(List<TokenizedPrompt> prompts) {
        int b = prompts.size();
        int l = tokenizer.maxTokens();
        long[] ids = new long[b * l];
        long[] mask = new long[b * l];
        for (int i = 0; i < b; i++) {
            System.arraycopy(prompts.get(i).ids(), 0, ids, i * l, l);
            System.arraycopy(prompts.get(i).attentionMask(), 0, mask, i * l, l);
        }
        long[] shape = {b, l};
        Map<String, OnnxTensor> feed = new HashMap<>();
        try {
            feed.put("input_ids", model.longInput("input_ids", ids, shape));
            if (model.hasInput("attention_mask")) {
                feed.put("attention_mask", model.longInput("attention_mask", mask, shape));
            }
            if (model.hasInput("token_type_ids")) {
                feed.put("token_type_ids", model.longInput("token_type_ids", new long[b * l], shape));
            }
        } catch (OrtException e) {
            feed.values().forEach(OnnxTensor::close);
            throw new ModelLoadException(model.label() + ": cannot build inputs: " + e.getMessage(), e);
        }
        return feed;
    }

    @Override
    public synchronized void close() {
        if (pinned != null) {
            pinned.close();
            pinned = null;
        }
        tokenizer.close();
    }
}
