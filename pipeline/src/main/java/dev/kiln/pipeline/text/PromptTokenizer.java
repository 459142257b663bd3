package dev.kiln.pipeline.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.pipeline.error.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Turns prompts into fixed-length token ids with the Hugging Face tokenizers library (through DJL),
 * from a package's {@code tokenizer/} folder.
 *
 * <p>Reads {@code tokenizer.json} when present; otherwise builds the CLIP tokenizer from
 * {@code vocab.json} and {@code merges.txt}, which is all the original diffusers ONNX script saved.
 * Truncation keeps the first tokens and the closing special token, as CLIP's tokenizer does, and
 * reports what was dropped.
 *
 * <p>The last {@value #REMEMBERED} distinct prompts' tokenizations are kept: every guided request without a
 * negative prompt tokenizes the empty one, front ends send the same stock negative prompts, and a job repeats
 * its prompt for each picture. Callers share the kept {@link TokenizedPrompt}s and must not modify their arrays.
 */
public final class PromptTokenizer implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HuggingFaceTokenizer tokenizer;
    private final int maxTokens;
    private final long padId;
    static final int REMEMBERED = 256;
    private final RecentlyUsed<TokenizedPrompt> recent = new RecentlyUsed<>(REMEMBERED);

    private PromptTokenizer(HuggingFaceTokenizer tokenizer, int maxTokens, long padId) {
        this.tokenizer = tokenizer;
        this.maxTokens = maxTokens;
        this.padId = padId;
    }

    /**
     * Loads the tokenizer in {@code dir}, padding and truncating to {@code maxTokens}.
     *
     * @throws ModelLoadException naming the missing or malformed file
     */
    public static PromptTokenizer load(Path dir, int maxTokens) {
        Path json = dir.resolve("tokenizer.json");
        JsonNode definition;
        if (Files.isRegularFile(json)) {
            definition = readJson(json);
        } else if (Files.isRegularFile(dir.resolve("vocab.json")) && Files.isRegularFile(dir.resolve("merges.txt"))) {
            definition = ClipTokenizerDefinition.fromVocabAndMerges(dir);
        } else {
            throw new ModelLoadException("tokenizer/tokenizer.json is missing (and there is no vocab.json + merges.txt "
                    + "to build a CLIP tokenizer from) in " + dir);
        }
        long padId = padTokenId(dir, definition);
        Map<String, String> options = Map.of("addSpecialTokens", "true", "padding", "false", "truncation", "false");
        try {
            Path tmp = Files.createTempFile("kiln-tokenizer", ".json");
            try {
                JSON.writeValue(tmp.toFile(), definition);
                return new PromptTokenizer(HuggingFaceTokenizer.newInstance(tmp, options), maxTokens, padId);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException("tokenizer in " + dir + " could not be loaded: " + e.getMessage(), e);
        }
    }

    private static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelLoadException(file.getParent().getFileName() + "/" + file.getFileName()
                    + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    /**
     * The padding id: {@code pad_token} from tokenizer_config.json or special_tokens_map.json, else the
     * tokenizer's end-of-text token (what Stable Diffusion 1.x pads with), else 0.
     */
    private static long padTokenId(Path dir, JsonNode definition) {
        String pad = null;
        for (String f : new String[] {"tokenizer_config.json", "special_tokens_map.json"}) {
            Path p = dir.resolve(f);
            if (pad == null && Files.isRegularFile(p)) {
                JsonNode n = readJson(p).path("pad_token");
                pad = n.isTextual() ? n.asText() : n.path("content").asText(null);
            }
        }
        if (pad == null) {
            pad = tokenId(definition, "<|endoftext|>") >= 0 ? "<|endoftext|>" : "[PAD]";
        }
        long id = tokenId(definition, pad);
        return Math.max(id, 0);
    }

    private static long tokenId(JsonNode definition, String token) {
        for (JsonNode added : definition.path("added_tokens")) {
            if (token.equals(added.path("content").asText())) {
                return added.path("id").asLong();
            }
        }
        JsonNode v = definition.path("model").path("vocab").path(token);
        return v.isNumber() ? v.asLong() : -1;
    }

    public int maxTokens() {
        return maxTokens;
    }

    public long padId() {
        return padId;
    }

    /** Tokenizes {@code text} to exactly {@link #maxTokens()} ids. */
    public TokenizedPrompt tokenize(String text) {
        TokenizedPrompt known = recent.get(text);
        if (known != null) {
            return known;
        }
        TokenizedPrompt fresh = tokenizeAnew(text);
        recent.putIfAbsent(text, fresh);
        return fresh;
    }

    private TokenizedPrompt tokenizeAnew(String text) {
        // DJL's encode(String) copies out every view of the encoding (tokens as strings, word ids, character
        // spans, ...) on each call: 40% of a short prompt's tokenizing, for the ids alone Kiln needs (bench/)
        long encoding = TokenizersLibrary.LIB.encode(tokenizer.getHandle(), text, true);
        try {
            return fixedLength(text, encoding, TokenizersLibrary.LIB.getTokenIds(encoding));
        } finally {
            TokenizersLibrary.LIB.deleteEncoding(encoding);
        }
    }

    private TokenizedPrompt fixedLength(String text, long encoding, long[] raw) {
        long[] ids = new long[maxTokens];
        long[] mask = new long[maxTokens];
        java.util.Arrays.fill(ids, padId);
        boolean truncated = raw.length > maxTokens;
        String dropped = "";
        if (truncated) {
            // keep the opening tokens and the closing special token, as CLIP's own truncation does
            System.arraycopy(raw, 0, ids, 0, maxTokens - 1);
            ids[maxTokens - 1] = raw[raw.length - 1];
            dropped = droppedText(text, encoding, raw);
            java.util.Arrays.fill(mask, 1);
        } else {
            System.arraycopy(raw, 0, ids, 0, raw.length);
            java.util.Arrays.fill(mask, 0, raw.length, 1);
        }
        return new TokenizedPrompt(text, ids, mask, truncated, dropped);
    }

    /**
     * The caller's own words from the first token that did not fit: the tokens' character spans point
     * into the original text, so the user sees what they typed, not a re-spaced, lower-cased decoding.
     */
    private String droppedText(String text, long encoding, long[] raw) {
        CharSpan[] spans = TokenizersLibrary.LIB.getTokenCharSpans(encoding);
        int first = maxTokens - 1;
        if (spans != null && first < spans.length && spans[first] != null && spans[first].getStart() >= 0
                && spans[first].getStart() < text.length()) {
            return text.substring(spans[first].getStart()).trim();
        }
        long[] cut = java.util.Arrays.copyOfRange(raw, first, raw.length - 1);
        // CLIP-style BPE vocabularies keep the end-of-word marker when decoding
        return tokenizer.decode(cut, true).replace("</w>", " ").replaceAll("\\s+", " ").trim();
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
