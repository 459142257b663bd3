package dev.kiln.pipeline.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.pipeline.image.ImageFiles;
import dev.kiln.pipeline.image.RgbImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The real emoji pictures emoji-tiny was trained on, as {@code models/recipes/emoji_data.py} builds them:
 * {@code index.jsonl} with one {@code {file, codepoint, style, caption, split}} line per picture, and the
 * 32×32 PNGs it names. {@code kiln eval} reads them for the real-image ceiling, emoji-FD and the
 * reconstruction PSNR.
 */
public final class EmojiDataset {
    /** The command that builds the dataset, for the message when it is missing. */
    public static final String BUILD_COMMAND = "/usr/bin/python3 models/recipes/emoji_data.py";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path root;
    private final Map<String, String> files = new HashMap<>();

    private EmojiDataset(Path root) {
        this.root = root;
    }

    /**
     * @throws IllegalArgumentException saying how to build the dataset when {@code root} has no index
     */
    public static EmojiDataset open(Path root) {
        Path index = root.resolve("index.jsonl");
        if (!Files.isRegularFile(index)) {
            throw new IllegalArgumentException("the emoji dataset is missing: no " + index + ". Build it with `"
                    + BUILD_COMMAND + "` (fetches the pinned npm packages, ~1 minute), or point --dataset at it");
        }
        EmojiDataset d = new EmojiDataset(root);
        try {
            for (String line : Files.readAllLines(index)) {
                if (line.isBlank()) {
                    continue;
                }
                JsonNode n = JSON.readTree(line);
                d.files.put(key(n.path("codepoint").asText(), n.path("style").asText()), n.path("file").asText());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + index + ": " + e.getMessage(), e);
        }
        return d;
    }

    private static String key(String codepoint, String style) {
        return style + "/" + codepoint;
    }

    public Path root() {
        return root;
    }

    /** The real picture of each prompt, at {@code size}×{@code size}. */
    public List<RgbImage> images(List<EvalPrompt> prompts, int size) {
        return prompts.stream().map(p -> image(p.codepoint(), p.style(), size)).toList();
    }

    public RgbImage image(String codepoint, String style, int size) {
        String file = files.get(key(codepoint, style));
        if (file == null) {
            throw new IllegalArgumentException("the emoji dataset in " + root + " has no " + style + " picture of "
                    + codepoint + "; rebuild it with `" + BUILD_COMMAND + "`");
        }
        try {
            return ImageFiles.read(Files.readAllBytes(root.resolve(file)), size, size);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + root.resolve(file) + ": " + e.getMessage(), e);
        }
    }
}
