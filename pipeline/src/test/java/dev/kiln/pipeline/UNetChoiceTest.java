package dev.kiln.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.error.ModelLoadException;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.model.SamplingDefaults;
import dev.kiln.pipeline.model.UNetRole;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A package with a one-step student next to its teacher: {@code kiln.json}'s {@code defaults.unet} picks the
 * default, {@code teacher_defaults} the teacher's sampling defaults, and a request chooses either by its
 * {@code unet} field or a {@code model:unet} suffix. The student here is another fixture's UNet file (the
 * stock single-context signature; the fixtures share weights, so its session's run count tells it apart).
 */
class UNetChoiceTest {
    static final String ID = "with-student";
    @TempDir
    static Path tmp;
    static ModelCatalog catalog;
    static GenerationPipeline pipeline;

    static final String MANIFEST = """
            {"format": 1,
             "conditioning": {"context_width": 768, "max_tokens": 77, "latent_channels": 4, "scaling_factor": 0.18215,
                              "latent_factor": 8, "image_size": 64, "size_multiple": 64},
             "defaults": {"steps": 1, "scheduler": "onestep", "guidance": 1.0, "unet": "student"},
             "teacher_defaults": {"steps": 4, "scheduler": "ddim", "guidance": 3.0},
             "components": {"student_unet": "student_unet/model.onnx"}}
            """;

    static Path withStudent(Path dir, String manifest) throws IOException {
        Fixtures.copy(Fixtures.KILN, dir);
        Files.createDirectories(dir.resolve("student_unet"));
        Files.copy(Fixtures.dir(Fixtures.DIFFUSERS).resolve("unet/model.onnx"), dir.resolve("student_unet/model.onnx"));
        Files.writeString(dir.resolve("kiln.json"), manifest);
        return dir;
    }

    @BeforeAll
    static void open() throws IOException {
        Path dir = withStudent(tmp.resolve(ID), MANIFEST);
        catalog = new ModelCatalog(Map.of(ID, dir, Fixtures.KILN, Fixtures.dir(Fixtures.KILN)), ID,
                OnnxRuntimeOptions.cpu().withThreads(1));
        pipeline = GenerationPipeline.embedded(catalog, new DenoiseLoopOptions(8, Duration.ofMillis(5), 64));
    }

    @AfterAll
    static void close() {
        pipeline.close();
        catalog.close();
    }

    static GenerationRequest.Builder request() {
        return GenerationRequest.builder("a red fox").seed(7L);
    }

    @Test
    void manifestDeclaresTheStudentAndEachUNetsDefaults() {
        ModelPackage p = catalog.get(ID);
        assertEquals(List.of(UNetRole.TEACHER, UNetRole.STUDENT), p.roles());
        assertEquals(UNetRole.STUDENT, p.defaultRole());
        assertEquals(new SamplingDefaults(1, "onestep", 1.0), p.samplingDefaults(UNetRole.STUDENT));
        assertEquals(new SamplingDefaults(4, "ddim", 3.0), p.samplingDefaults(UNetRole.TEACHER));
        ModelPackage plain = catalog.get(Fixtures.KILN);
        assertEquals(List.of(UNetRole.TEACHER), plain.roles());
        assertEquals(UNetRole.TEACHER, plain.defaultRole());
        assertEquals(new SamplingDefaults(20, "euler", 7.5), plain.samplingDefaults(UNetRole.TEACHER));
    }

    @Test
    void requestsGetTheDefaultUNetsSettingsAndCanAskForTheOther() {
        GenerationSettings student = pipeline.resolve(request().build());
        assertEquals("student", student.unet());
        assertEquals(1, student.steps());
        assertEquals("onestep", student.scheduler());
        assertFalse(student.guided());
        assertTrue(student.infotext(0).contains("UNet: student"), student.infotext(0));

        GenerationSettings teacher = pipeline.resolve(request().unet("teacher").build());
        assertEquals("teacher", teacher.unet());
        assertEquals(4, teacher.steps());
        assertEquals("ddim", teacher.scheduler());
        assertEquals(3.0, teacher.guidance());
        assertTrue(teacher.guided());

        GenerationSettings suffixed = pipeline.resolve(request().model(ID + ":teacher").build());
        assertEquals(ID, suffixed.model());
        assertEquals("teacher", suffixed.unet());
        GenerationSettings explicit = pipeline.resolve(request().unet("TEACHER").steps(2).scheduler("euler").build());
        assertEquals(2, explicit.steps());
        assertEquals("euler", explicit.scheduler());
    }

    @Test
    void studentAndTeacherSampleWithTheirOwnSessions() {
        ModelPackage p = catalog.get(ID);
        GenerationRequest.Builder same = request().steps(2).scheduler("ddim").guidance(1.0);
        long teacherRuns = p.unet(UNetRole.TEACHER).runCount();
        long studentBefore = p.unet(UNetRole.STUDENT).runCount();
        byte[] student = pipeline.generate(same.unet("student").build()).images().get(0).png();
        assertEquals(teacherRuns, p.unet(UNetRole.TEACHER).runCount(), "the student request must not run the teacher");
        long studentRuns = p.unet(UNetRole.STUDENT).runCount();
        assertEquals(studentBefore + 2, studentRuns);
        byte[] teacher = pipeline.generate(same.unet("teacher").build()).images().get(0).png();
        assertEquals(studentRuns, p.unet(UNetRole.STUDENT).runCount());
        assertEquals(teacherRuns + 2, p.unet(UNetRole.TEACHER).runCount());
        // same weights in this fixture, same sampling: the same picture through either session
        assertArrayEquals(pixels(student), pixels(teacher));
        byte[] studentAgain = pipeline.generate(same.unet("student").build()).images().get(0).png();
        assertArrayEquals(student, studentAgain);
        // the default request: one step of the student
        GenerationResult r = pipeline.generate(request().count(2).build());
        assertEquals(2, r.images().size());
    }

    @Test
    void wrongChoicesSayWhatIsOffered() {
        InvalidRequestException none = assertThrows(InvalidRequestException.class,
                () -> pipeline.resolve(request().model(Fixtures.KILN).unet("student").build()));
        assertEquals("unet", none.param());
        assertTrue(none.getMessage().contains("has no student UNet; it offers: teacher"), none.getMessage());
        InvalidRequestException bad = assertThrows(InvalidRequestException.class,
                () -> pipeline.resolve(request().unet("pupil").build()));
        assertTrue(bad.getMessage().contains("teacher or student"), bad.getMessage());
        InvalidRequestException clash = assertThrows(InvalidRequestException.class,
                () -> pipeline.resolve(request().model(ID + ":teacher").unet("student").build()));
        assertTrue(clash.getMessage().contains("give one of them"), clash.getMessage());
        InvalidRequestException decoder = assertThrows(InvalidRequestException.class,
                () -> pipeline.resolve(request().decoder("consistency").build()));
        assertTrue(decoder.getMessage().contains("offers: vae"), decoder.getMessage());
        // and the next request still works
        assertEquals(1, pipeline.generate(request().build()).images().size());
    }

    @Test
    void aPackageNamingAMissingComponentOrAStudentItLacksFailsToLoad(@TempDir Path dir) throws IOException {
        Path missing = withStudent(dir.resolve("missing"), MANIFEST.replace("student_unet/model.onnx", "student_unet/gone.onnx"));
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> ModelPackage.load(missing, OnnxRuntimeOptions.cpu()));
        assertTrue(e.getMessage().contains("student_unet/gone.onnx"), e.getMessage());

        Path noStudent = withStudent(dir.resolve("nostudent"), MANIFEST.replace("\"student_unet\": \"student_unet/model.onnx\"", ""));
        ModelLoadException e2 = assertThrows(ModelLoadException.class,
                () -> ModelPackage.load(noStudent, OnnxRuntimeOptions.cpu()));
        assertTrue(e2.getMessage().contains("defaults.unet is \"student\""), e2.getMessage());
    }

    static int[] pixels(byte[] png) {
        try {
            java.awt.image.BufferedImage img = javax.imageio.ImageIO.read(new java.io.ByteArrayInputStream(png));
            return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
