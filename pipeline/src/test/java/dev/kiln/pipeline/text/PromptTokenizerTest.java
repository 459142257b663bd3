package dev.kiln.pipeline.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.pipeline.Fixtures;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
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

    /** Each prompt of the reference, asked twice with a flood of other prompts between, keeps its ids. */
    @Test
    void rememberedPromptsKeepTheirIdsAndTheMemoryIsBounded() throws Exception {
        JsonNode ref = new ObjectMapper().readTree(Fixtures.modelsDir().resolve("fixtures/tokenizer-reference.json").toFile());
        try (PromptTokenizer t = PromptTokenizer.load(Fixtures.dir(Fixtures.ALL.get(0)).resolve("tokenizer"), 77)) {
            for (JsonNode p : ref.get("prompts")) {
                String prompt = p.get("prompt").asText();
                TokenizedPrompt first = t.tokenize(prompt);
                assertSame(first, t.tokenize(prompt), "asked again at once: remembered");
                for (int i = 0; i <= PromptTokenizer.REMEMBERED; i++) {
                    t.tokenize("filler prompt number " + i);
                }
                TokenizedPrompt again = t.tokenize(prompt);
                assertNotSame(first, again, "pushed out by newer prompts: tokenized anew");
                for (int i = 0; i < 77; i++) {
                    assertEquals(p.get("ids").get(i).asLong(), again.ids()[i], prompt + " id " + i);
                }
            }
        }
    }
}
