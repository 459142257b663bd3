package dev.kiln.pipeline.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.pipeline.Fixtures;
import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.GenerationRequest;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.image.ImageFiles;
import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.stage.DecodeSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Evaluation pictures are exactly the pictures a user gets for the same prompt and seed. */
class ImageSamplerTest {
    @Test
    void manyPromptsAtOnceGiveWhatSingleRequestsGive() {
        try (ModelCatalog catalog = Fixtures.catalog(OnnxRuntimeOptions.cpu().withThreads(1));
             ImageSampler sampler = new ImageSampler(catalog, Fixtures.KILN);
             GenerationPipeline pipeline = GenerationPipeline.embedded(catalog, DenoiseLoopOptions.defaults())) {
            List<String> prompts = List.of("a red fox", "a blue house", "a red fox");
            long[] seeds = {1, 2, 3};
            ImageSampler.Setup setup = new ImageSampler.Setup("teacher", "ddim", 3, 5.0, DecodeSpec.VAE);
            List<RgbImage> images = sampler.sample(prompts, seeds, setup);
            assertEquals(3, images.size());
            for (int i = 0; i < prompts.size(); i++) {
                byte[] png = pipeline.generate(GenerationRequest.builder(prompts.get(i)).model(Fixtures.KILN)
                        .scheduler("ddim").steps(3).guidance(5.0).seed(seeds[i]).build()).images().get(0).png();
                RgbImage single = ImageFiles.read(png, images.get(i).width(), images.get(i).height());
                assertArrayEquals(single.rgb(), images.get(i).rgb(), "prompt " + i);
            }
        }
    }
}
