package dev.kiln.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.eval.CaptionEmbedder;
import dev.kiln.pipeline.eval.EvalPrompt;
import dev.kiln.pipeline.eval.Evaluator;
import dev.kiln.pipeline.eval.ImageMetrics;
import dev.kiln.pipeline.eval.ImageSampler;
import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.model.UNetRole;
import dev.kiln.pipeline.stage.DecodeSpec;
import dev.kiln.pipeline.text.TextEncoder;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The shipped emoji-tiny package: it loads with every component, a request gets its one-step student by
 * default and the teacher on request, and its pictures are recognisably what was asked for — the evaluator
 * picks each picture's own caption among 100 well above chance — so a broken export fails here.
 *
 * <p>Skipped (not failed) while {@code models/emoji-tiny} is absent from the checkout: the Java landed before
 * the trained weights, which arrive with issue 3's recipes. Once the package is there nothing is skipped.
 */
class EmojiTinyTest {
    /**
     * Retrieval among 100 captions that the one-step student's pictures of the first 100 held-in evaluation
     * prompts must reach, top-1 and top-10. Chance is 0.01 and 0.10: a broken export (noise, a wrong scaling
     * factor, swapped inputs) lands there, while the package (teacher 3000 steps, student 1032 DMD steps) measures
     * top-1 0.29 and top-10 0.72 on all 200 held-in prompts ({@code eval/results.json}). The floors sit at
     * about half of that, far above chance: at 100 prompts chance gives 10 ± 3 top-10 hits against the floor's 40.
     */
    static final double TOP1_FLOOR = 0.10;
    static final double TOP10_FLOOR = 0.40;

    static ModelCatalog catalog;
    static ModelPackage pkg;

    @BeforeAll
    static void open() {
        java.util.Optional<Path> dir = Fixtures.emojiTiny();
        assumeTrue(dir.isPresent(), "models/emoji-tiny is not in this checkout (it lands with the trained weights)");
        catalog = new ModelCatalog(Map.of("emoji-tiny", dir.get()), "emoji-tiny", OnnxRuntimeOptions.cpu().withThreads(2));
        pkg = catalog.get("emoji-tiny");
    }

    @AfterAll
    static void close() {
        if (catalog != null) {
            catalog.close();
        }
    }

    @Test
    void loadsWithEveryComponent() throws Exception {
        assertEquals(List.of(UNetRole.TEACHER, UNetRole.STUDENT), pkg.roles());
        assertEquals(UNetRole.STUDENT, pkg.defaultRole());
        assertEquals(384, pkg.layout().contextWidth());
        assertEquals(32, pkg.layout().maxTokens());
        assertEquals(32, pkg.layout().imageSize());
        assertEquals(4, pkg.layout().latentChannels());
        assertTrue(pkg.unet().hasInput("encoder_hidden_states_v"), "keys and values have their own context inputs");
        assertTrue(pkg.unet(UNetRole.STUDENT).hasInput("encoder_hidden_states_v"));
        assertTrue(pkg.consistencyDecoder().isPresent());
        assertTrue(pkg.vaeEncoder().isPresent());
        new Evaluator(pkg.evaluator().orElseThrow());
        assertTrue(Files.isRegularFile(pkg.componentPath(ModelPackage.UNET_TORCHSCRIPT).orElseThrow()));
        assertTrue(Files.size(pkg.root().resolve("unet/model.onnx")) > 100_000, "trained weights, not a stub");
    }

    @Test
    void theStudentByDefaultTheTeacherOnRequestBothDecoders() throws Exception {
        try (GenerationPipeline p = GenerationPipeline.embedded(catalog, new DenoiseLoopOptions(8, Duration.ZERO, 16))) {
            GenerationResult student = p.generate(GenerationRequest.builder("grinning face, noto style").seed(3L).build());
            assertEquals(1, student.settings().steps());
            assertEquals("student", student.settings().unet());
            BufferedImage img = ImageIO.read(new ByteArrayInputStream(student.images().get(0).png()));
            assertEquals(32, img.getWidth());
            GenerationResult teacher = p.generate(GenerationRequest.builder("grinning face, noto style").seed(3L)
                    .unet("teacher").steps(4).build());
            assertEquals("teacher", teacher.settings().unet());
            assertTrue(teacher.settings().guided(), "the teacher samples with guidance by default");
            // the consistency decoder: a request of two pictures gives the second the same bytes as asking for it alone
            GenerationResult pair = p.generate(GenerationRequest.builder("party popper, fluent style").seed(10L).count(2)
                    .decoder("consistency").build());
            GenerationResult alone = p.generate(GenerationRequest.builder("party popper, fluent style").seed(11L)
                    .decoder("consistency").build());
            assertArrayEquals(alone.images().get(0).png(), pair.images().get(1).png());
        }
    }

    @Test
    void studentPicturesBeatTheRetrievalFloor() {
        List<EvalPrompt> prompts = EvalPrompt.split(EvalPrompt.read(pkg.root().resolve("eval/prompts.json")),
                EvalPrompt.HELD_IN).subList(0, 100);
        List<String> captions = prompts.stream().map(EvalPrompt::caption).toList();
        long[] seeds = prompts.stream().mapToLong(EvalPrompt::seed).toArray();
        try (ImageSampler sampler = new ImageSampler(catalog, "emoji-tiny")) {
            List<RgbImage> images = sampler.sample(captions, seeds,
                    new ImageSampler.Setup("student", null, null, null, DecodeSpec.VAE));
            Evaluator.Judgement j = new Evaluator(pkg.evaluator().orElseThrow()).judge(images);
            float[][] text = new CaptionEmbedder(TextEncoder.of(pkg)).embed(captions);
            double top1 = ImageMetrics.retrievalTop1(j.embeddings(), text, 100);
            double top10 = ImageMetrics.retrievalTopK(j.embeddings(), text, 100, 10);
            assertTrue(top1 >= TOP1_FLOOR && top10 >= TOP10_FLOOR, "retrieval top-1 " + top1 + " / top-10 " + top10
                    + " is below the floor " + TOP1_FLOOR + " / " + TOP10_FLOOR + " (chance 0.01 / 0.10): the export is broken");
        }
    }
}
