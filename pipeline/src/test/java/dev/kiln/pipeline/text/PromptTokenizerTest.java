package dev.kiln.pipeline.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.pipeline.Fixtures;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Kiln's tokenizer gives the ids of the reference CLIP BPE implementation in models/recipes/fixtures.py,
 * from tokenizer.json (optimum, kiln) and from the old vocab.json + merges.txt files (diffusers).
 */
class PromptTokenizerTest {
    static Stream<Arguments> prompts() throws Exception {
        JsonNode ref = new ObjectMapper().readTree(Fixtures.modelsDir().resolve("fixtures/tokenizer-reference.json").toFile());
        List<Arguments> all = new ArrayList<>();
        for (String id : Fixtures.ALL) {
            for (JsonNode p : ref.get("prompts")) {
                all.add(Arguments.of(id, p.get("prompt").asText(), p));
            }
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("prompts")
    void idsMatchTheReference(String id, String prompt, JsonNode ref) {
        try (PromptTokenizer t = PromptTokenizer.load(Fixtures.dir(id).resolve("tokenizer"), 77)) {
            TokenizedPrompt got = t.tokenize(prompt);
            long[] want = new long[77];
            for (int i = 0; i < 77; i++) {
                want[i] = ref.get("ids").get(i).asLong();
            }
            assertArrayEquals(want, got.ids());
            assertEquals(ref.get("truncated").asBoolean(), got.truncated());
            assertEquals(913, t.padId(), "SD pads with <|endoftext|>");
            if (got.truncated()) {
                assertTrue(!got.droppedText().isEmpty() && !got.droppedText().contains("</w>"), got.droppedText());
                assertTrue(prompt.trim().endsWith(got.droppedText()),
                        "dropped text '" + got.droppedText() + "' is the end of the prompt");
            } else {
                assertEquals("", got.droppedText());
            }
        }
    }
}
