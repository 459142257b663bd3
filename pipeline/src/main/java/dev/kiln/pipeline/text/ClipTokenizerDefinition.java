package dev.kiln.pipeline.text;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.pipeline.error.ModelLoadException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Builds the {@code tokenizer.json} definition of CLIP's fast tokenizer from the slow tokenizer's
 * {@code vocab.json} and {@code merges.txt}, so packages made by the original diffusers ONNX script
 * (which saved no tokenizer.json) load unchanged. The normalizer, pre-tokenizer and post-processor
 * are those of CLIP's fast tokenizer; only the vocabulary and merges come from the files.
 */
final class ClipTokenizerDefinition {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String BOS = "<|startoftext|>";
    private static final String EOS = "<|endoftext|>";
    private static final String SPLIT =
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

    private ClipTokenizerDefinition() {
    }

    static JsonNode fromVocabAndMerges(Path dir) {
        JsonNode vocab;
        List<String> mergeLines;
        try {
            vocab = JSON.readTree(dir.resolve("vocab.json").toFile());
            mergeLines = Files.readAllLines(dir.resolve("merges.txt"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ModelLoadException("tokenizer/vocab.json or merges.txt in " + dir + " is unreadable: " + e.getMessage(), e);
        }
        if (!vocab.has(BOS) || !vocab.has(EOS)) {
            throw new ModelLoadException("tokenizer/vocab.json in " + dir + " lacks " + BOS + " or " + EOS
                    + ": not a CLIP vocabulary");
        }
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (String special : new String[] {BOS, EOS}) {
            ObjectNode t = added.addObject();
            t.put("id", vocab.get(special).asInt());
            t.put("content", special);
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", true);
            t.put("special", true);
        }
        ObjectNode normalizer = root.putObject("normalizer");
        normalizer.put("type", "Sequence");
        ArrayNode norms = normalizer.putArray("normalizers");
        norms.addObject().put("type", "NFC");
        ObjectNode replace = norms.addObject();
        replace.put("type", "Replace");
        replace.putObject("pattern").put("Regex", "\\s+");
        replace.put("content", " ");
        norms.addObject().put("type", "Lowercase");

        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "Sequence");
        ArrayNode pres = pre.putArray("pretokenizers");
        ObjectNode split = pres.addObject();
        split.put("type", "Split");
        split.putObject("pattern").put("Regex", SPLIT);
        split.put("behavior", "Removed");
        split.put("invert", true);
        ObjectNode byteLevel = pres.addObject();
        byteLevel.put("type", "ByteLevel");
        byteLevel.put("add_prefix_space", false);
        byteLevel.put("trim_offsets", true);
        byteLevel.put("use_regex", false);

        ObjectNode post = root.putObject("post_processor");
        post.put("type", "RobertaProcessing");
        post.putArray("sep").add(EOS).add(vocab.get(EOS).asInt());
        post.putArray("cls").add(BOS).add(vocab.get(BOS).asInt());
        post.put("trim_offsets", false);
        post.put("add_prefix_space", false);

        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "ByteLevel");
        decoder.put("add_prefix_space", true);
        decoder.put("trim_offsets", true);
        decoder.put("use_regex", true);

        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.put("unk_token", EOS);
        model.put("continuing_subword_prefix", "");
        model.put("end_of_word_suffix", "</w>");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.set("vocab", vocab);
        ArrayNode merges = model.putArray("merges");
        for (String line : mergeLines) {
            if (line.isBlank() || line.startsWith("#version")) {
                continue;
            }
            merges.add(line);
        }
        return root;
    }
}
