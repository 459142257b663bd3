package dev.kiln.pipeline.denoise;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kiln.pipeline.Fixtures;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.noise.NoiseSource;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The UNet keeps its inputs and output in native memory from call to call and copies a conditioning row only
 * when that memory does not hold it yet. Whatever the calls before it, every row must come out exactly as it
 * does from a UNet that evaluates it alone.
 */
class UNetPinnedMemoryTest {
    static ModelCatalog catalog;

    @BeforeAll
    static void open() {
        catalog = Fixtures.catalog(OnnxRuntimeOptions.cpu().withThreads(1));
    }

    @AfterAll
    static void close() {
        catalog.close();
    }

    /** One UNet row: its sample, timestep and conditioning (keys and values). */
    record Row(float[] sample, double t, float[] k, float[] v) {
    }

    static final long[] LATENT = {4, 8, 8};

    static long[] contextShape(ModelPackage pkg) {
        return new long[] {pkg.layout().maxTokens(), pkg.layout().contextWidth()};
    }

    /** What a fresh UNet gives for {@code row} evaluated on its own. */
    static float[] alone(ModelPackage pkg, Row row) {
        UNet unet = new UNet(pkg.unet());
        try {
            return unet.predictRows(List.of(row.sample()), LATENT, new double[] {row.t()}, List.of(row.k()),
                    List.of(row.v()), contextShape(pkg))[0];
        } finally {
            unet.release();
        }
    }

    static float[][] call(UNet unet, ModelPackage pkg, List<Row> rows) {
        return unet.predictRows(rows.stream().map(Row::sample).toList(), LATENT,
                rows.stream().mapToDouble(Row::t).toArray(), rows.stream().map(Row::k).toList(),
                rows.stream().map(Row::v).toList(), contextShape(pkg));
    }

    @ParameterizedTest
    @ValueSource(strings = {Fixtures.DIFFUSERS, Fixtures.OPTIMUM, Fixtures.KILN})
    void everyRowIsWhatItIsAloneWhateverTheCallsBefore(String model) {
        ModelPackage pkg = catalog.get(model);
        long[] ctx = contextShape(pkg);
        int ctxSize = (int) (ctx[0] * ctx[1]);
        NoiseSource noise = new NoiseSource(7, 0);
        UNet probe = new UNet(pkg.unet());
        boolean perRow = probe.perSampleTimesteps();
        boolean ownValues = probe.separateValueContext();
        List<float[]> contexts = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            contexts.add(noise.gaussian(1000 + i, ctxSize));
        }
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            float[] k = contexts.get(i % contexts.size());
            // the kiln export takes the values from their own input: give some rows values that differ from their keys
            float[] v = ownValues && i % 3 == 0 ? contexts.get((i + 1) % contexts.size()) : k;
            double t = perRow ? 999 - 83 * i : 500;
            rows.add(new Row(noise.gaussian(i, 4 * 8 * 8), t, k, v));
        }
        float[][] expected = rows.stream().map(r -> alone(pkg, r)).toArray(float[][]::new);

        // batches that grow, shrink, reorder, repeat a context in several rows, and bring a copy of a context
        // already held (equal values, another array)
        Row copy = new Row(rows.get(1).sample(), rows.get(1).t(), rows.get(1).k().clone(), rows.get(1).v().clone());
        List<List<Integer>> batches = List.of(List.of(0, 1, 2, 3), List.of(3, 2, 1, 0), List.of(1, 3), List.of(0, 1, 2, 3,
                4, 5, 6, 7), List.of(6, 0, 7, 11, 5), List.of(8, 9, 10, 11, 0, 1, 2, 3), List.of(1), List.of(1, 7, 1, 7),
                List.of(2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11, 0), List.of(-1, 1, 5));
        UNet unet = new UNet(pkg.unet());
        try {
            for (List<Integer> batch : batches) {
                List<Row> in = batch.stream().map(i -> i < 0 ? copy : rows.get(i)).toList();
                float[][] out = call(unet, pkg, in);
                assertEquals(batch.size(), out.length);
                for (int j = 0; j < batch.size(); j++) {
                    int i = batch.get(j) < 0 ? 1 : batch.get(j);
                    assertArrayEquals(expected[i], out[j], model + ": row " + i + " at position " + j + " of " + batch);
                }
            }
            // the FloatTensor form goes the same way
            List<Row> in = List.of(rows.get(4), rows.get(9));
            FloatTensor stacked = unet.predict(FloatTensor.stack(in.stream().map(Row::sample).toList(), LATENT),
                    in.stream().mapToDouble(Row::t).toArray(), in.stream().map(Row::k).toList(),
                    in.stream().map(Row::v).toList(), ctx);
            assertArrayEquals(expected[4], stacked.itemData(0));
            assertArrayEquals(expected[9], stacked.itemData(1));
            // another latent size in between gets its own memory and leaves this one's intact
            float[] big = noise.gaussian(99, 4 * 16 * 16);
            unet.predictRows(List.of(big), new long[] {4, 16, 16}, new double[] {rows.get(0).t()},
                    List.of(rows.get(0).k()), List.of(rows.get(0).v()), ctx);
            float[][] again = call(unet, pkg, List.of(rows.get(4), rows.get(9)));
            assertArrayEquals(expected[4], again[0]);
            assertArrayEquals(expected[9], again[1]);
        } finally {
            unet.release();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {Fixtures.DIFFUSERS})
    void aMalformedRowIsRejectedAndTheNextCallIsUnharmed(String model) {
        ModelPackage pkg = catalog.get(model);
        long[] ctx = contextShape(pkg);
        int ctxSize = (int) (ctx[0] * ctx[1]);
        NoiseSource noise = new NoiseSource(8, 0);
        float[] k = noise.gaussian(1, ctxSize);
        Row good2 = new Row(noise.gaussian(0, 256), 400, k, k);
        float[] expected = alone(pkg, good2);
        UNet unet = new UNet(pkg.unet());
        try {
            assertThrows(IllegalArgumentException.class, () -> call(unet, pkg, List.of(good2,
                    new Row(new float[3], 400, k, k))));
            assertThrows(IllegalArgumentException.class, () -> call(unet, pkg, List.of(
                    new Row(good2.sample(), 400, Arrays.copyOf(k, 5), k), good2)));
            assertArrayEquals(expected, call(unet, pkg, List.of(good2))[0]);
        } finally {
            unet.release();
        }
    }
}
