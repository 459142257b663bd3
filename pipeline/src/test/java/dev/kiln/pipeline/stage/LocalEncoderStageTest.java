package dev.kiln.pipeline.stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.kiln.pipeline.Fixtures;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.text.TextEncoder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The encoder stage keeps recent negative prompts' states: found ones cost one text encoder row and keep their values. */
class LocalEncoderStageTest {
    static ModelCatalog catalog;

    @BeforeAll
    static void open() {
        catalog = Fixtures.catalog(OnnxRuntimeOptions.cpu().withThreads(2));
    }

    @AfterAll
    static void close() {
        catalog.close();
    }

    @Test
    void aRememberedNegativePromptCostsOneRowAndKeepsItsStates() {
        try (LocalEncoderStage stage = new LocalEncoderStage(catalog); LocalEncoderStage fresh = new LocalEncoderStage(catalog)) {
            List<Integer> rows = Collections.synchronizedList(new ArrayList<>());
            stage.observe((model, n) -> rows.add(n));
            Conditioning first = stage.encode(new EncodeSpec(Fixtures.KILN, "a red fox", "blurry", true));
            Conditioning second = stage.encode(new EncodeSpec(Fixtures.KILN, "a blue whale", "blurry", true));
            Conditioning empty = stage.encode(new EncodeSpec(Fixtures.KILN, "a green frog", null, true));
            Conditioning emptyAgain = stage.encode(new EncodeSpec(Fixtures.KILN, "a green frog", "", true));
            assertEquals(List.of(2, 1, 2, 1), rows, "text encoder rows per call");
            assertSame(first.uncond(), second.uncond(), "the remembered states themselves");
            assertSame(empty.uncond(), emptyAgain.uncond(), "no negative prompt is the empty one");
            // each conditioning as a stage that never saw the negative prompt computes it
            Conditioning alone = fresh.encode(new EncodeSpec(Fixtures.KILN, "a blue whale", "blurry", true));
            assertArrayEquals(alone.uncond(), second.uncond());
            assertArrayEquals(alone.cond(), second.cond());
            assertArrayEquals(fresh.encode(new EncodeSpec(Fixtures.KILN, "a green frog", "", true)).uncond(), emptyAgain.uncond());
        }
    }

    @Test
    void onlyTheLatestNegativePromptsAreKept() {
        try (LocalEncoderStage stage = new LocalEncoderStage(catalog)) {
            List<Integer> rows = Collections.synchronizedList(new ArrayList<>());
            Conditioning first = stage.encode(new EncodeSpec(Fixtures.KILN, "a red fox", "negative 0", true));
            for (int i = 1; i <= TextEncoder.KEPT_PROMPTS; i++) {
                stage.encode(new EncodeSpec(Fixtures.KILN, "a red fox", "negative " + i, true));
            }
            stage.observe((model, n) -> rows.add(n));
            Conditioning again = stage.encode(new EncodeSpec(Fixtures.KILN, "a red fox", "negative 0", true));
            assertEquals(List.of(2), rows, "pushed out by newer negative prompts: encoded anew");
            assertNotSame(first.uncond(), again.uncond());
            assertArrayEquals(first.uncond(), again.uncond());
        }
    }
}
