package dev.kiln.pipeline.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.pipeline.Fixtures;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The per-prompt path the encoder stage takes (states written into kept memory) gives exactly the items of
 * the general path (the reference tests check that one against PyTorch), whatever the sequence of batch
 * sizes, including ones that outgrow the kept memory.
 */
class TextEncoderTest {
    static Stream<Path> packages() {
        Stream<Path> fixtures = Fixtures.ALL.stream().map(Fixtures::dir);
        return Stream.concat(fixtures, Fixtures.emojiTiny().stream());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("packages")
    void eachPromptGetsTheGeneralPathsStates(Path dir) {
        try (ModelPackage pkg = ModelPackage.load(dir, OnnxRuntimeOptions.cpu());
             TextEncoder encoder = TextEncoder.of(pkg)) {
            int asked = 0;
            for (int b : new int[] {1, 3, 2, 5, 1, 5}) {
                List<TokenizedPrompt> prompts = new ArrayList<>();
                for (int i = 0; i < b; i++) {
                    prompts.add(encoder.tokenize("prompt " + (asked++) + ": a red fox in the snow"));
                }
                FloatTensor general = encoder.encode(prompts);
                List<FloatTensor> each = encoder.encodeEach(prompts);
                assertEquals(b, each.size());
                for (int i = 0; i < b; i++) {
                    assertArrayEquals(general.item(i).shape(), each.get(i).shape(), "batch of " + b + ", prompt " + i);
                    assertArrayEquals(general.item(i).data(), each.get(i).data(), "batch of " + b + ", prompt " + i);
                }
            }
        }
    }
}
