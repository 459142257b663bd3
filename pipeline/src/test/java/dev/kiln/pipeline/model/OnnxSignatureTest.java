package dev.kiln.pipeline.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.error.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The signature read from the file without its weights is what an ONNX Runtime session reports, for every model shipped. */
class OnnxSignatureTest {
    static List<Path> everyShippedModel() throws IOException {
        List<Path> out = new ArrayList<>();
        for (String dir : List.of("../models/fixtures", "../models/emoji-tiny")) {
            try (Stream<Path> files = Files.walk(Path.of(dir))) {
                files.filter(p -> p.getFileName().toString().endsWith(".onnx")).sorted().forEach(out::add);
            }
        }
        return out;
    }

    @Test
    void everyShippedModelReadsAsItsSessionReportsIt() throws IOException {
        List<Path> models = everyShippedModel();
        assertTrue(models.size() >= 15, "fixtures and emoji-tiny ship at least 15 ONNX files: " + models);
        for (Path file : models) {
            OnnxSignature read = OnnxSignature.read(file, file.toString());
            try (OnnxModel session = OnnxModel.open(file, file.toString(), OnnxRuntimeOptions.cpu())) {
                assertEquals(List.copyOf(session.inputs().values()), List.copyOf(read.inputs().values()), file + " inputs");
                // a session may know more of an output's shape than the file declares (it infers shapes while
                // optimising the graph): every declared size must agree, and a size left open must be open or inferred
                List<TensorSpec> declared = List.copyOf(read.outputs().values());
                List<TensorSpec> reported = List.copyOf(session.outputs().values());
                assertEquals(reported.size(), declared.size(), file + " outputs");
                for (int i = 0; i < declared.size(); i++) {
                    TensorSpec d = declared.get(i);
                    TensorSpec r = reported.get(i);
                    assertEquals(r.name(), d.name(), file + " output " + i);
                    assertEquals(r.type(), d.type(), file + " " + d.name());
                    assertEquals(r.rank(), d.rank(), file + " " + d.name());
                    for (int k = 0; k < d.rank(); k++) {
                        assertTrue(d.dim(k) == r.dim(k) || d.dim(k) == -1, file + " " + d + " against " + r);
                    }
                }
            }
        }
    }

    @Test
    void aTruncatedFileIsRefusedNamingIt(@TempDir Path dir) throws IOException {
        Path whole = Path.of("../models/fixtures/sd15-tiny-diffusers/unet/model.onnx");
        byte[] bytes = Files.readAllBytes(whole);
        Path cut = dir.resolve("cut.onnx");
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length / 2));

        ModelLoadException e = assertThrows(ModelLoadException.class, () -> OnnxSignature.read(cut, "unet/model.onnx"));
        assertTrue(e.getMessage().startsWith("unet/model.onnx is not a loadable ONNX model"), e.getMessage());
    }

    @Test
    void aFileThatIsNoModelIsRefused(@TempDir Path dir) throws IOException {
        Path text = dir.resolve("notes.onnx");
        Files.writeString(text, "this is not a model\n");

        ModelLoadException e = assertThrows(ModelLoadException.class, () -> OnnxSignature.read(text, "notes.onnx"));
        assertFalse(e.getMessage().isEmpty());
    }
}
