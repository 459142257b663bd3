package dev.kiln.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class GenerateCommandTest {
    record Run(int exit, String out, String err) {
    }

    static Run run(String... args) {
        CommandLine cl = Kiln.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void writesNumberedPngsAndReportsSeeds(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("pics/fox.png");
        Run r = run("generate", "a", "red", "fox", "--model", "sd15-tiny-kiln", "--steps", "3", "--seed", "11", "-n", "2",
                "--size", "64x64", "-o", out.toString());
        assertEquals(0, r.exit(), r.err());
        for (int i = 1; i <= 2; i++) {
            BufferedImage img = ImageIO.read(tmp.resolve("pics/fox-" + i + ".png").toFile());
            assertEquals(64, img.getWidth());
        }
        assertTrue(r.out().contains("seed 11") && r.out().contains("seed 12"), r.out());
    }

    @Test
    void badInputSaysWhatIsWrong(@TempDir Path tmp) {
        Run r = run("generate", "a fox", "--model", "sd15-tiny-kiln", "--size", "70x64", "-o", tmp.resolve("x.png").toString());
        assertEquals(CommandFailure.BAD_REQUEST, r.exit());
        assertTrue(r.err().contains("multiple of 64"), r.err());
        assertTrue(Files.notExists(tmp.resolve("x.png")));

        Run unknown = run("generate", "a fox", "--scheduler", "plms", "-o", tmp.resolve("y.png").toString());
        assertEquals(CommandFailure.BAD_REQUEST, unknown.exit());
        assertTrue(unknown.err().contains("unknown scheduler 'plms'"), unknown.err());
    }

    @Test
    void packageFolderCanBeGivenDirectly(@TempDir Path tmp) {
        Path pkg = Path.of(System.getProperty("kiln.models.dir"), "fixtures", "sd15-tiny-optimum");
        Run r = run("generate", "a fox", "--model", pkg.toString(), "--steps", "2", "-o", tmp.resolve("z.png").toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(Files.exists(tmp.resolve("z.png")));
    }

    @Test
    void teacherAndDecoderChoicesAreCheckedAgainstThePackage(@TempDir Path tmp) {
        Run teacher = run("generate", "a fox", "--model", "sd15-tiny-kiln", "--teacher", "--steps", "2",
                "-o", tmp.resolve("t.png").toString());
        assertEquals(0, teacher.exit(), teacher.err());
        assertTrue(teacher.out().contains("(teacher UNet, vae decoder)"), teacher.out());

        Run student = run("generate", "a fox", "--model", "sd15-tiny-kiln", "--unet", "student", "-o", tmp.resolve("s.png").toString());
        assertEquals(CommandFailure.BAD_REQUEST, student.exit());
        assertTrue(student.err().contains("has no student UNet; it offers: teacher"), student.err());

        Run both = run("generate", "a fox", "--teacher", "--unet", "student", "-o", tmp.resolve("b.png").toString());
        assertEquals(CommandFailure.BAD_REQUEST, both.exit());
        assertTrue(both.err().contains("contradict"), both.err());

        Run cd = run("generate", "a fox", "--model", "sd15-tiny-kiln", "--decoder", "consistency", "-o", tmp.resolve("c.png").toString());
        assertEquals(CommandFailure.BAD_REQUEST, cd.exit());
        assertTrue(cd.err().contains("offers: vae"), cd.err());
        assertTrue(Files.notExists(tmp.resolve("s.png")) && Files.notExists(tmp.resolve("c.png")));
    }

    @Test
    void evalAndSamplesNeedAPackageWithAnEvaluationSet(@TempDir Path tmp) {
        Run eval = run("eval", "--model", "sd15-tiny-kiln");
        assertEquals(CommandFailure.BAD_MODEL, eval.exit());
        assertTrue(eval.err().contains("eval/prompts.json is missing"), eval.err());
        Run samples = run("samples", "--model", "sd15-tiny-kiln", "-o", tmp.toString());
        assertEquals(CommandFailure.BAD_MODEL, samples.exit());
        assertTrue(samples.err().contains("eval/prompts.json is missing"), samples.err());
    }

    @Test
    void numbering() {
        assertEquals(Path.of("a/out-2.png"), GenerateCommand.numbered(Path.of("a/out.png"), 2));
        assertEquals(Path.of("pic-1"), GenerateCommand.numbered(Path.of("pic"), 1));
    }
}
