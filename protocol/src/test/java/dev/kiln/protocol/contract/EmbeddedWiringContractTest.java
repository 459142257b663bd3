package dev.kiln.protocol.contract;

import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.model.ModelCatalog;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The stage contract with every stage in this process, as embedded mode wires them. */
class EmbeddedWiringContractTest extends StageContractTest {
    static ModelCatalog catalog;
    static GenerationPipeline pipeline;

    @BeforeAll
    static void wire() {
        catalog = newCatalog();
        pipeline = GenerationPipeline.embedded(catalog, OPTIONS);
    }

    @AfterAll
    static void unwire() {
        pipeline.close();
        catalog.close();
    }

    @Override
    GenerationPipeline wiring() {
        return pipeline;
    }

    @Override
    int serverQueueDepth() {
        return pipeline.denoiser().queueDepth();
    }
}
