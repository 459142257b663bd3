package dev.kiln.pipeline.stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.Fixtures;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.noise.NoiseSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The encoder and decoder stages share session calls between concurrent requests, and a picture or a
 * conditioning is the same, byte for byte, whatever it was batched with: each result under load is compared
 * with the same input run alone through a stage that never batches ({@code maxImages}/{@code maxRows} 1), on the
 * fixture models and, where the checkout has it, emoji-tiny (its VAE, its consistency decoder, its MiniLM encoder).
 */
@Timeout(300)
class SharedStageCallsTest {
    static ModelCatalog fixtures;
    static ModelCatalog emoji;

    @BeforeAll
    static void open() {
        fixtures = Fixtures.catalog(OnnxRuntimeOptions.cpu().withThreads(2));
        emoji = Fixtures.emojiTiny().map(dir -> new ModelCatalog(Map.of("emoji-tiny", dir), "emoji-tiny",
                OnnxRuntimeOptions.cpu().withThreads(2))).orElse(null);
    }

    @AfterAll
    static void close() {
        fixtures.close();
        if (emoji != null) {
            emoji.close();
        }
    }

    static DecodeSpec spec(String model, int size, int latentFactor, String decoder, long firstSeed, int images) {
        int h = size / latentFactor;
        List<float[]> latents = new ArrayList<>();
        List<Map<String, String>> text = new ArrayList<>();
        long[] seeds = new long[images];
        for (int i = 0; i < images; i++) {
            latents.add(new NoiseSource(firstSeed + i, 0).gaussian(0, 4 * h * h));
            text.add(Map.of("seed", Long.toString(firstSeed + i)));
            seeds[i] = firstSeed + i;
        }
        return new DecodeSpec(model, latents, new long[] {4, h, h}, decoder, text, seeds);
    }

    /** 12 clients decode 5 requests each (1 to 3 pictures) at once; every PNG must equal the one decoded alone. */
    void decodesUnderLoadAsAlone(ModelCatalog catalog, String model, int size, int factor, String decoder) throws Exception {
        LocalDecoderStage alone = new LocalDecoderStage(catalog, 1, Long.MAX_VALUE);
        List<Integer> sizes = Collections.synchronizedList(new ArrayList<>());
        LocalDecoderStage shared = new LocalDecoderStage(catalog);
        shared.observe((m, n) -> {
            assertEquals(model, m);
            sizes.add(n);
        });
        ExecutorService pool = Executors.newFixedThreadPool(12);
        try {
            List<Future<List<byte[]>>> results = new ArrayList<>();
            List<DecodeSpec> specs = new ArrayList<>();
            for (int c = 0; c < 12; c++) {
                for (int r = 0; r < 5; r++) {
                    specs.add(spec(model, size, factor, decoder, 1000L * c + 10L * r, 1 + (c + r) % 3));
                }
            }
            for (int c = 0; c < 12; c++) {
                List<DecodeSpec> mine = specs.subList(c * 5, c * 5 + 5);
                results.add(pool.submit(() -> {
                    List<byte[]> out = new ArrayList<>();
                    for (DecodeSpec s : mine) {
                        out.addAll(shared.decode(s));
                    }
                    return out;
                }));
            }
            int pictures = 0;
            for (int c = 0; c < 12; c++) {
                List<byte[]> got = results.get(c).get();
                List<byte[]> expected = new ArrayList<>();
                for (DecodeSpec s : specs.subList(c * 5, c * 5 + 5)) {
                    expected.addAll(alone.decode(s));
                }
                assertEquals(expected.size(), got.size());
                for (int i = 0; i < got.size(); i++) {
                    assertArrayEquals(expected.get(i), got.get(i), model + " " + decoder + ": client " + c + " picture " + i);
                }
                pictures += got.size();
            }
            assertEquals(pictures, sizes.stream().mapToInt(Integer::intValue).sum());
            assertTrue(sizes.stream().anyMatch(n -> n > 1), "no call took more than one picture: " + sizes);
            assertTrue(sizes.stream().allMatch(n -> n <= LocalDecoderStage.DEFAULT_MAX_IMAGES), sizes.toString());
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void fixtureVaePicturesDoNotDependOnTheirBatch() throws Exception {
        decodesUnderLoadAsAlone(fixtures, Fixtures.DIFFUSERS, 64, 8, DecodeSpec.VAE);
    }

    @Test
    void emojiVaeAndConsistencyPicturesDoNotDependOnTheirBatch() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(emoji != null, "emoji-tiny is not in this checkout");
        decodesUnderLoadAsAlone(emoji, "emoji-tiny", 32, 4, DecodeSpec.VAE);
        decodesUnderLoadAsAlone(emoji, "emoji-tiny", 32, 4, DecodeSpec.CONSISTENCY);
    }

    @Test
    void aCallTakesNoMorePixelsThanAllowed() {
        List<Integer> sizes = new ArrayList<>();
        // 65,536 pixels: four 128×128 pictures, one 256×256
        LocalDecoderStage stage = new LocalDecoderStage(fixtures, 16, 4 * 128 * 128);
        stage.observe((m, n) -> sizes.add(n));
        stage.decode(spec(Fixtures.KILN, 128, 8, DecodeSpec.VAE, 1, 6));
        assertEquals(List.of(4, 2), sizes);
        sizes.clear();
        stage.decode(spec(Fixtures.KILN, 256, 8, DecodeSpec.VAE, 1, 2));
        assertEquals(List.of(1, 1), sizes);
        sizes.clear();
        stage.decode(spec(Fixtures.KILN, 64, 8, DecodeSpec.VAE, 1, 3));
        assertEquals(List.of(3), sizes);
    }

    /** 12 clients encode 8 prompts each at once, guided and not; every conditioning must equal the one encoded alone. */
    void encodesUnderLoadAsAlone(ModelCatalog catalog, String model) throws Exception {
        try (LocalEncoderStage alone = new LocalEncoderStage(catalog, 1); LocalEncoderStage shared = new LocalEncoderStage(catalog)) {
            List<Integer> sizes = Collections.synchronizedList(new ArrayList<>());
            shared.observe((m, n) -> sizes.add(n));
            ExecutorService pool = Executors.newFixedThreadPool(12);
            try {
                List<Future<List<Conditioning>>> results = new ArrayList<>();
                for (int c = 0; c < 12; c++) {
                    int client = c;
                    results.add(pool.submit(() -> {
                        List<Conditioning> out = new ArrayList<>();
                        for (int r = 0; r < 8; r++) {
                            out.add(shared.encode(prompt(model, client, r)));
                        }
                        return out;
                    }));
                }
                for (int c = 0; c < 12; c++) {
                    List<Conditioning> got = results.get(c).get();
                    for (int r = 0; r < 8; r++) {
                        Conditioning expected = alone.encode(prompt(model, c, r));
                        Conditioning actual = got.get(r);
                        assertArrayEquals(expected.contextShape(), actual.contextShape());
                        assertArrayEquals(expected.cond(), actual.cond(), model + " client " + c + " prompt " + r);
                        if (expected.uncond() != null) {
                            assertArrayEquals(expected.uncond(), actual.uncond(), model + " client " + c + " prompt " + r);
                        } else {
                            assertEquals(null, actual.uncond());
                        }
                    }
                }
                assertTrue(sizes.stream().anyMatch(n -> n > 1), "no call took more than one prompt: " + sizes);
                assertTrue(sizes.stream().allMatch(n -> n <= LocalEncoderStage.DEFAULT_MAX_ROWS), sizes.toString());
            } finally {
                pool.shutdownNow();
            }
        }
    }

    static EncodeSpec prompt(String model, int client, int r) {
        boolean guided = r % 2 == 0;
        return new EncodeSpec(model, "a watercolor fox number " + client + " in scene " + r,
                guided && r % 4 == 0 ? "blurry" : null, guided);
    }

    @Test
    void fixtureConditioningDoesNotDependOnItsBatch() throws Exception {
        encodesUnderLoadAsAlone(fixtures, Fixtures.DIFFUSERS);
    }

    @Test
    void emojiConditioningDoesNotDependOnItsBatch() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(emoji != null, "emoji-tiny is not in this checkout");
        encodesUnderLoadAsAlone(emoji, "emoji-tiny");
    }
}
