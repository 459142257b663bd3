package dev.kiln.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.error.ModelLoadException;
import dev.kiln.pipeline.error.ModelNotFoundException;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every bad input gets an error naming the problem, and the next good request still succeeds. */
class BadInputTest {
    static ModelCatalog catalog;
    static GenerationPipeline pipeline;

    @BeforeAll
    static void open() {
        catalog = Fixtures.catalog(OnnxRuntimeOptions.cpu().withThreads(1));
        pipeline = GenerationPipeline.embedded(catalog, DenoiseLoopOptions.defaults());
    }

    @AfterAll
    static void close() {
        pipeline.close();
        catalog.close();
    }

    static GenerationRequest.Builder good() {
        return GenerationRequest.builder("a red fox").model(Fixtures.KILN).size(64, 64).steps(2).seed(3L);
    }

    static Stream<Arguments> badRequests() {
        return Stream.of(
                bad("empty prompt", b -> b.prompt(""), "prompt", "must not be empty"),
                bad("blank prompt", b -> b.prompt("   "), "prompt", "must not be empty"),
                bad("null prompt", b -> b.prompt(null), "prompt", "must not be empty"),
                bad("unknown scheduler", b -> b.scheduler("pndm"), "scheduler", "unknown scheduler 'pndm'"),
                bad("zero steps", b -> b.steps(0), "steps", "between 1 and 150"),
                bad("too many steps", b -> b.steps(151), "steps", "between 1 and 150"),
                bad("too many LCM steps", b -> b.scheduler("lcm").steps(60), "steps", "between 1 and 50"),
                bad("size too small", b -> b.size(0, 64), "size", "between 64 and"),
                bad("size too large", b -> b.size(64, 100_000), "size", "between 64 and"),
                bad("size not divisible", b -> b.size(96, 64), "size", "multiple of 64"),
                bad("size not divisible by the latent factor", b -> b.size(64, 68), "size", "multiple of 64"),
                bad("zero images", b -> b.count(0), "n", "between 1 and 10"),
                bad("too many images", b -> b.count(11), "n", "between 1 and 10"),
                bad("negative guidance", b -> b.guidance(-1.0), "guidance_scale", "between 0 and 30"),
                bad("NaN guidance", b -> b.guidance(Double.NaN), "guidance_scale", "between 0 and 30"),
                bad("negative seed", b -> b.seed(-5L), "seed", "-1 (random)"),
                bad("strength without image", b -> b.initImage(null, 0.5), "strength", "only with an init image"),
                bad("image that is not a picture", b -> b.initImage(new byte[] {1, 2, 3}, 0.5), "image", "not a PNG"),
                bad("strength out of range", b -> b.initImage(new byte[] {1, 2, 3}, 1.5), "strength", "in (0, 1]"),
                bad("unknown decoder", b -> b.decoder("magic"), "decoder", "unknown decoder 'magic'"));
    }

    static Arguments bad(String name, UnaryOperator<GenerationRequest.Builder> change, String param, String message) {
        return Arguments.of(name, change, param, message);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badRequests")
    void badRequestIsRejectedAndTheNextOneSucceeds(String name, UnaryOperator<GenerationRequest.Builder> change,
                                                   String param, String message) {
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> pipeline.generate(change.apply(good()).build()));
        assertEquals(param, e.param(), e.getMessage());
        assertTrue(e.getMessage().contains(message), "'" + e.getMessage() + "' should say '" + message + "'");
        assertEquals(1, pipeline.generate(good().build()).images().size());
    }

    @Test
    void unknownModelNamesTheAvailableOnes() {
        ModelNotFoundException e = assertThrows(ModelNotFoundException.class,
                () -> pipeline.generate(good().model("sd-xl").build()));
        assertTrue(e.getMessage().contains("'sd-xl'") && e.getMessage().contains(Fixtures.KILN), e.getMessage());
        assertEquals(1, pipeline.generate(good().build()).images().size());
    }

    @Test
    void missingModelFileIsNamed(@TempDir Path tmp) throws Exception {
        Path pkg = Fixtures.copy(Fixtures.OPTIMUM, tmp.resolve("broken"));
        Files.delete(pkg.resolve("unet/model.onnx"));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelPackage.load(pkg, OnnxRuntimeOptions.cpu()));
        assertTrue(e.getMessage().contains("unet/model.onnx"), e.getMessage());
    }

    @Test
    void corruptModelFileIsNamed(@TempDir Path tmp) throws Exception {
        Path pkg = Fixtures.copy(Fixtures.OPTIMUM, tmp.resolve("broken"));
        byte[] bytes = Files.readAllBytes(pkg.resolve("text_encoder/model.onnx"));
        Files.write(pkg.resolve("text_encoder/model.onnx"), java.util.Arrays.copyOf(bytes, bytes.length / 3));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelPackage.load(pkg, OnnxRuntimeOptions.cpu()));
        assertTrue(e.getMessage().contains("text_encoder/model.onnx"), e.getMessage());
    }

    @Test
    void brokenJsonIsNamed(@TempDir Path tmp) throws Exception {
        Path pkg = Fixtures.copy(Fixtures.KILN, tmp.resolve("broken"));
        Files.writeString(pkg.resolve("scheduler/scheduler_config.json"), "{\"beta_start\": ");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelPackage.load(pkg, OnnxRuntimeOptions.cpu()));
        assertTrue(e.getMessage().contains("scheduler_config.json"), e.getMessage());
    }

    @Test
    void brokenPackageInACatalogLeavesTheOthersServing(@TempDir Path tmp) throws Exception {
        Path good = Fixtures.dir(Fixtures.KILN);
        Path broken = Fixtures.copy(Fixtures.OPTIMUM, tmp.resolve("broken"));
        Files.delete(broken.resolve("vae_decoder/model.onnx"));
        try (ModelCatalog c = new ModelCatalog(Map.of("good", good, "broken", broken), "good", OnnxRuntimeOptions.cpu());
             GenerationPipeline p = GenerationPipeline.embedded(c, DenoiseLoopOptions.defaults())) {
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> p.generate(good().model("broken").build()));
            assertTrue(e.getMessage().contains("vae_decoder/model.onnx"), e.getMessage());
            assertEquals(1, p.generate(good().model("good").build()).images().size());
            assertEquals(List.of("good", "broken").size(), c.ids().size());
        }
    }
}
