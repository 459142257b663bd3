package dev.kiln.service;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelStatusTest {

    @Test
    void unsetDirectoryNamesTheProperty() {
        ModelStatus status = ModelStatus.inspect(Optional.empty());
        assertFalse(status.available());
        assertEquals("model not loaded: kiln.model.dir is not set", status.detail());
    }

    @Test
    void missingDirectoryNamesThePath(@TempDir Path tmp) {
        Path absent = tmp.resolve("sd15");
        ModelStatus status = ModelStatus.inspect(Optional.of(absent.toString()));
        assertFalse(status.available());
        assertEquals("model not loaded: " + absent + " (no such directory)", status.detail());
    }

    @Test
    void directoryWithoutModelIndexIsNotAModel(@TempDir Path tmp) {
        ModelStatus status = ModelStatus.inspect(Optional.of(tmp.toString()));
        assertFalse(status.available());
        assertTrue(status.detail().startsWith("model not loaded: " + tmp), status.detail());
        assertTrue(status.detail().endsWith("(no model_index.json in it)"), status.detail());
    }

    @Test
    void modelIndexMakesItAvailableUnderTheFolderName(@TempDir Path tmp) throws IOException {
        Path model = Files.createDirectory(tmp.resolve("emoji-tiny"));
        Files.writeString(model.resolve("model_index.json"), "{}");
        ModelStatus status = ModelStatus.inspect(Optional.of(model.toString()));
        assertTrue(status.available());
        assertEquals("emoji-tiny", status.modelId());
        assertEquals(model, status.dir());
    }
}
