package dev.kiln.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class GenerationPipelineTest {
    static ModelCatalog catalog;
    static GenerationPipeline pipeline;

    @BeforeAll
    static void open() {
        catalog = Fixtures.catalog(OnnxRuntimeOptions.cpu().withThreads(1));
        pipeline = GenerationPipeline.embedded(catalog, new DenoiseLoopOptions(8, Duration.ofMillis(20), 64));
    }

    @AfterAll
    static void close() {
        pipeline.close();
        catalog.close();
    }

    static GenerationRequest.Builder request(String model) {
        return GenerationRequest.builder("a photo of an astronaut riding a horse").model(model).size(64, 64).steps(6)
                .scheduler("euler").guidance(7.5).seed(42L);
    }

    @ParameterizedTest
    @ValueSource(strings = {Fixtures.DIFFUSERS, Fixtures.OPTIMUM, Fixtures.KILN})
    void everyExportFlavourGeneratesAPicture(String model) throws Exception {
        GenerationResult r = pipeline.generate(request(model).count(2).build());
        assertEquals(2, r.images().size());
        for (GeneratedImage img : r.images()) {
            BufferedImage png = ImageIO.read(new ByteArrayInputStream(img.png()));
            assertEquals(64, png.getWidth());
            assertEquals(64, png.getHeight());
            assertTrue(distinctColours(png) > 50, "a picture, not a flat fill");
        }
        assertEquals(42L, r.images().get(0).seed());
        assertEquals(43L, r.images().get(1).seed());
        assertFalse(java.util.Arrays.equals(r.images().get(0).png(), r.images().get(1).png()),
                "different seeds give different pictures");
    }

    @Test
    void sameSeedGivesTheSameBytesWhateverTheBatch() throws Exception {
        // image 1 of a request of three is seed 43; alone, with guidance, it must come out byte-identical
        byte[] alone = pipeline.generate(request(Fixtures.KILN).seed(43L).build()).images().get(0).png();
        byte[] inBatch = pipeline.generate(request(Fixtures.KILN).count(3).build()).images().get(1).png();
        assertArrayEquals(alone, inBatch);

        // and in a crowd of other requests at other steps, schedulers and sizes, submitted together
        ExecutorService pool = Executors.newFixedThreadPool(6);
        try {
            List<CompletableFuture<byte[]>> crowd = new ArrayList<>();
            crowd.add(CompletableFuture.supplyAsync(() -> pipeline.generate(request(Fixtures.KILN).seed(43L).build())
                    .images().get(0).png(), pool));
            for (int i = 0; i < 5; i++) {
                int k = i;
                crowd.add(CompletableFuture.supplyAsync(() -> pipeline.generate(request(Fixtures.KILN).seed(1000L + k)
                        .steps(3 + k).scheduler(k % 2 == 0 ? "ddim" : "dpmpp_2m").count(1 + k % 3)
                        .prompt("a red fox " + k).build()).images().get(0).png(), pool));
            }
            assertArrayEquals(alone, crowd.get(0).get());
            for (CompletableFuture<byte[]> f : crowd) {
                f.get();
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void cancelledRequestLeavesTheBatchAndTheOthersFinish() throws Exception {
        byte[] alone = pipeline.generate(request(Fixtures.KILN).seed(7L).steps(40).build()).images().get(0).png();
        java.util.concurrent.atomic.AtomicBoolean cancel = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            CompletableFuture<GenerationResult> doomed = CompletableFuture.supplyAsync(() -> pipeline.generate(
                    pipeline.resolve(request(Fixtures.KILN).seed(8L).steps(150).count(3).build()),
                    (step, total, latents) -> started.countDown(), cancel::get), pool);
            CompletableFuture<GenerationResult> other = CompletableFuture.supplyAsync(() -> pipeline.generate(
                    pipeline.resolve(request(Fixtures.KILN).seed(7L).steps(40).build()),
                    (step, total, latents) -> started.countDown(), () -> false), pool);
            assertTrue(started.await(30, java.util.concurrent.TimeUnit.SECONDS));
            cancel.set(true);
            java.util.concurrent.ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
                    java.util.concurrent.ExecutionException.class, doomed::get);
            assertTrue(e.getCause() instanceof java.util.concurrent.CancellationException, e.getCause().toString());
            // the request sharing its batch is untouched: same bytes as alone
            assertArrayEquals(alone, other.get().images().get(0).png());
            assertEquals(0, pipeline.denoiser().queueDepth(), "the cancelled request still holds a place");
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void sameSeedGivesTheSameBytesWhateverTheThreadCount() {
        byte[] one = pipeline.generate(request(Fixtures.OPTIMUM).build()).images().get(0).png();
        try (ModelCatalog two = Fixtures.catalog(OnnxRuntimeOptions.cpu().withThreads(2));
             GenerationPipeline p2 = GenerationPipeline.embedded(two, DenoiseLoopOptions.defaults())) {
            assertArrayEquals(one, p2.generate(request(Fixtures.OPTIMUM).build()).images().get(0).png());
        }
    }

    @Test
    void pngCarriesTheParametersAsAutomatic1111WritesThem() {
        GenerationResult r = pipeline.generate(request(Fixtures.KILN).negativePrompt("blurry").build());
        String text = pngText(r.images().get(0).png(), "parameters");
        assertEquals("a photo of an astronaut riding a horse\nNegative prompt: blurry\n"
                + "Steps: 6, Sampler: Euler, CFG scale: 7.5, Seed: 42, Size: 64x64, Model: sd15-tiny-kiln, Version: kiln", text);
    }

    @Test
    void negativePromptAndGuidanceChangeThePicture() {
        byte[] base = pipeline.generate(request(Fixtures.KILN).build()).images().get(0).png();
        byte[] negative = pipeline.generate(request(Fixtures.KILN).negativePrompt("a cat").build()).images().get(0).png();
        byte[] unguided = pipeline.generate(request(Fixtures.KILN).guidance(1.0).build()).images().get(0).png();
        assertFalse(java.util.Arrays.equals(base, negative));
        assertFalse(java.util.Arrays.equals(base, unguided));
    }

    @ParameterizedTest
    @ValueSource(strings = {"ddim", "euler", "dpmpp_2m", "lcm", "onestep"})
    void everySchedulerRuns(String scheduler) {
        int steps = scheduler.equals("onestep") ? 1 : 4;
        GenerationResult r = pipeline.generate(request(Fixtures.DIFFUSERS).scheduler(scheduler).steps(steps).build());
        assertEquals(1, r.images().size());
        assertTrue(r.settings().samplerName().length() > 0);
    }

    @Test
    void imageToImageStartsFromTheInitPicture() throws Exception {
        byte[] init = pipeline.generate(request(Fixtures.KILN).seed(7L).build()).images().get(0).png();
        GenerationRequest.Builder b = request(Fixtures.KILN).steps(10).seed(99L);
        byte[] light = pipeline.generate(b.initImage(init, 0.2).build()).images().get(0).png();
        byte[] strong = pipeline.generate(b.initImage(init, 1.0).build()).images().get(0).png();
        double dLight = meanAbsDiff(init, light);
        double dStrong = meanAbsDiff(init, strong);
        assertTrue(dLight < dStrong, "strength 0.2 stays closer to the init picture (" + dLight + ") than 1.0 ("
                + dStrong + ")");
        assertArrayEquals(light, pipeline.generate(b.initImage(init, 0.2).build()).images().get(0).png(),
                "image-to-image is deterministic too");
        String text = pngText(light, "parameters");
        assertTrue(text.contains("Denoising strength: 0.2"), text);
    }

    @Test
    void longPromptIsReportedNotSilentlyCut() {
        String longPrompt = "a red fox ".repeat(40) + "and the very end";
        GenerationResult r = pipeline.generate(request(Fixtures.OPTIMUM).prompt(longPrompt).steps(2).build());
        assertEquals(1, r.warnings().size());
        assertTrue(r.warnings().get(0).contains("the very end"), r.warnings().get(0));
    }

    @Test
    void randomSeedIsReported() {
        GenerationResult r = pipeline.generate(request(Fixtures.KILN).seed(-1L).steps(2).build());
        long seed = r.images().get(0).seed();
        assertTrue(seed >= 0);
        assertArrayEquals(r.images().get(0).png(), pipeline.generate(request(Fixtures.KILN).seed(seed).steps(2).build())
                .images().get(0).png(), "the reported seed reproduces the picture");
        assertNotEquals(-1L, r.settings().seed());
    }

    static int distinctColours(BufferedImage img) {
        java.util.Set<Integer> c = new java.util.HashSet<>();
        for (int y = 0; y < img.getHeight(); y++) {
            for (int x = 0; x < img.getWidth(); x++) {
                c.add(img.getRGB(x, y));
            }
        }
        return c.size();
    }

    static double meanAbsDiff(byte[] pngA, byte[] pngB) throws Exception {
        BufferedImage a = ImageIO.read(new ByteArrayInputStream(pngA));
        BufferedImage b = ImageIO.read(new ByteArrayInputStream(pngB));
        double sum = 0;
        for (int y = 0; y < a.getHeight(); y++) {
            for (int x = 0; x < a.getWidth(); x++) {
                int p = a.getRGB(x, y);
                int q = b.getRGB(x, y);
                for (int s = 0; s < 24; s += 8) {
                    sum += Math.abs(((p >> s) & 255) - ((q >> s) & 255));
                }
            }
        }
        return sum / (a.getWidth() * a.getHeight() * 3.0);
    }

    /** Reads a tEXt chunk independently of Kiln's PNG writer. */
    static String pngText(byte[] png, String key) {
        int pos = 8;
        while (pos + 8 <= png.length) {
            int len = ((png[pos] & 255) << 24) | ((png[pos + 1] & 255) << 16) | ((png[pos + 2] & 255) << 8) | (png[pos + 3] & 255);
            String type = new String(png, pos + 4, 4, StandardCharsets.US_ASCII);
            if (type.equals("tEXt") || type.equals("iTXt")) {
                int start = pos + 8;
                int nul = start;
                while (png[nul] != 0) {
                    nul++;
                }
                String k = new String(png, start, nul - start, StandardCharsets.ISO_8859_1);
                if (k.equals(key)) {
                    if (type.equals("tEXt")) {
                        return new String(png, nul + 1, start + len - nul - 1, StandardCharsets.ISO_8859_1);
                    }
                    // iTXt: keyword\0 compression flag, method, language\0, translated keyword\0, text (UTF-8)
                    int p = nul + 3;
                    while (png[p] != 0) {
                        p++;
                    }
                    p++;
                    while (png[p] != 0) {
                        p++;
                    }
                    p++;
                    return new String(png, p, start + len - p, StandardCharsets.UTF_8);
                }
            }
            pos += 12 + len;
        }
        return null;
    }
}
