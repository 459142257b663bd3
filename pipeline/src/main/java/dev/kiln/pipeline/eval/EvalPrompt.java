package dev.kiln.pipeline.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.pipeline.error.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One prompt of a package's fixed evaluation set ({@code eval/prompts.json}).
 *
 * @param caption   the prompt, as the dataset captions the real picture
 * @param codepoint the emoji's code point(s), e.g. {@code 1f600}, naming the real picture
 * @param style     {@code noto}, {@code fluent} or {@code twemoji}
 * @param split     {@code train} (held-in) or {@code holdout} (never seen in training)
 * @param seed      the seed its picture is generated with
 */
public record EvalPrompt(String caption, String codepoint, String style, String split, long seed) {
    public static final String HELD_IN = "train";
    public static final String HELD_OUT = "holdout";
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Reads {@code {"seed": s, "prompts": [{caption, codepoint, style, split, seed?}, ...]}} (a bare array of
     * prompts is accepted too); a prompt without its own seed gets the file's seed plus its index.
     */
    public static List<EvalPrompt> read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException(file + " is missing: the package ships no evaluation prompts");
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelLoadException(file + " is not valid JSON: " + e.getMessage(), e);
        }
        JsonNode list = root.isArray() ? root : root.path("prompts");
        if (!list.isArray() || list.isEmpty()) {
            throw new ModelLoadException(file + " has no \"prompts\" array");
        }
        long base = root.path("seed").asLong(0);
        List<EvalPrompt> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode p = list.get(i);
            for (String f : List.of("caption", "codepoint", "style", "split")) {
                if (!p.path(f).isTextual()) {
                    throw new ModelLoadException(file + ": prompt " + i + " has no \"" + f + "\"");
                }
            }
            String split = p.get("split").asText();
            if (!split.equals(HELD_IN) && !split.equals(HELD_OUT)) {
                throw new ModelLoadException(file + ": prompt " + i + " has split '" + split + "'; expected "
                        + HELD_IN + " or " + HELD_OUT);
            }
            out.add(new EvalPrompt(p.get("caption").asText(), p.get("codepoint").asText(), p.get("style").asText(),
                    split, p.has("seed") ? p.get("seed").asLong() : base + i));
        }
        return out;
    }

    /** The prompts of one split, in file order. */
    public static List<EvalPrompt> split(List<EvalPrompt> all, String split) {
        return all.stream().filter(p -> p.split().equals(split)).toList();
    }

    /** "held-in" or "held-out", as tables call the splits. */
    public static String splitLabel(String split) {
        return split.equals(HELD_IN) ? "held-in" : "held-out";
    }
}
