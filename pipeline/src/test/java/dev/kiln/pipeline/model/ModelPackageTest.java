package dev.kiln.pipeline.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxJavaType;
import dev.kiln.pipeline.Fixtures;
import dev.kiln.pipeline.denoise.UNet;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Both Stable Diffusion export flavours (and Kiln's own) load, with what each session declares read from it. */
class ModelPackageTest {
    @Test
    void aDescribedPackageHasTheLoadedLayoutAndDefaultsAndNoSessions() {
        List<Path> roots = new ArrayList<>(Fixtures.ALL.stream().map(Fixtures::dir).toList());
        Fixtures.emojiTiny().ifPresent(roots::add);
        for (Path root : roots) {
            String id = root.getFileName().toString();
            try (ModelPackage loaded = ModelPackage.load(id, root, OnnxRuntimeOptions.cpu());
                 ModelPackage described = ModelPackage.describe(id, root)) {
                assertEquals(loaded.layout(), described.layout(), id);
                assertEquals(loaded.roles(), described.roles(), id);
                assertEquals(loaded.defaultRole(), described.defaultRole(), id);
                assertEquals(loaded.samplingDefaults(loaded.defaultRole()), described.samplingDefaults(described.defaultRole()), id);
                assertEquals(loaded.vaeEncoder().isPresent(), described.hasVaeEncoder(), id);
                assertTrue(loaded.hasSessions(), id);
                assertFalse(described.hasSessions(), id);
                IllegalStateException e = assertThrows(IllegalStateException.class, described::unet, id);
                assertTrue(e.getMessage().contains("described only"), e.getMessage());
                assertThrows(IllegalStateException.class, described::vaeEncoder, id);
            }
        }
    }

    @Test
    void diffusersFlavour() {
        try (ModelPackage p = ModelPackage.load(Fixtures.dir(Fixtures.DIFFUSERS), OnnxRuntimeOptions.cpu())) {
            assertEquals(OnnxJavaType.INT32, p.textEncoder().input("input_ids").type());
            assertEquals(OnnxJavaType.FLOAT, p.unet().input("timestep").type());
            assertEquals(1, p.unet().input("timestep").rank());
            assertTrue(new UNet(p.unet()).perSampleTimesteps());
            assertFalse(new UNet(p.unet()).separateValueContext());
            assertTrue(p.vaeEncoder().orElseThrow().outputs().containsKey("latent_sample"));
            ConditioningLayout l = p.layout();
            assertEquals(77, l.maxTokens());
            assertEquals(768, l.contextWidth());
            assertEquals(4, l.latentChannels());
            assertEquals(0.18215, l.scalingFactor(), 0);
            assertEquals(512, l.imageSize(), "no kiln.json: Stable Diffusion's default size");
            assertEquals(64, l.sizeMultiple());
        }
    }

    @Test
    void optimumFlavour() {
        try (ModelPackage p = ModelPackage.load(Fixtures.dir(Fixtures.OPTIMUM), OnnxRuntimeOptions.cpu())) {
            assertEquals(OnnxJavaType.INT64, p.textEncoder().input("input_ids").type());
            assertEquals(OnnxJavaType.INT64, p.unet().input("timestep").type());
            assertTrue(new UNet(p.unet()).perSampleTimesteps());
            assertTrue(p.vaeEncoder().orElseThrow().outputs().containsKey("latent_parameters"));
            assertEquals(0.18215, p.layout().scalingFactor(), 0, "from vae_decoder/config.json");
        }
    }

    @Test
    void kilnFlavour() {
        try (ModelPackage p = ModelPackage.load(Fixtures.dir(Fixtures.KILN), OnnxRuntimeOptions.cpu())) {
            assertEquals(0, p.unet().input("timestep").rank());
            UNet unet = new UNet(p.unet());
            assertFalse(unet.perSampleTimesteps(), "a rank-0 timestep is shared by the batch");
            assertTrue(unet.separateValueContext());
            assertEquals(64, p.layout().imageSize(), "from kiln.json");
            assertEquals("euler", p.defaultString("scheduler", "x"));
            assertEquals(20, p.defaultInt("steps", 0));
        }
    }

    @Test
    void cudaFallsBackToTheCpuWhenAllowedAndSaysSoWhenNot() {
        // this build has the CPU artifact and the machine no GPU, so registering CUDA fails either way
        try (ModelPackage p = ModelPackage.load(Fixtures.dir(Fixtures.KILN), new OnnxRuntimeOptions("cuda", 0, true, 1))) {
            assertEquals(768, p.layout().contextWidth());
        }
        dev.kiln.pipeline.error.ModelLoadException e = org.junit.jupiter.api.Assertions.assertThrows(
                dev.kiln.pipeline.error.ModelLoadException.class,
                () -> ModelPackage.load(Fixtures.dir(Fixtures.KILN), new OnnxRuntimeOptions("cuda", 0, false, 1)));
        assertTrue(e.getMessage().contains("CUDA"), e.getMessage());
    }
}
