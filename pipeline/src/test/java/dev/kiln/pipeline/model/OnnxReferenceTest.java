package dev.kiln.pipeline.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.pipeline.Fixtures;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * ONNX Runtime, through Kiln's input conversion, gives what PyTorch gave for the same inputs
 * (models/recipes/fixtures.py wrote the PyTorch outputs into each package's reference.json).
 */
class OnnxReferenceTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static Stream<Arguments> cases() throws Exception {
        List<Arguments> all = new ArrayList<>();
        List<Path> packages = new ArrayList<>();
        Fixtures.ALL.forEach(id -> packages.add(Fixtures.dir(id)));
        // the trained package, once in the checkout: its export recipe wrote the PyTorch outputs the same way
        Fixtures.emojiTiny().ifPresent(packages::add);
        for (Path dir : packages) {
            JsonNode ref = JSON.readTree(dir.resolve("reference.json").toFile());
            for (JsonNode c : ref.get("cases")) {
                all.add(Arguments.of(dir.getFileName().toString(), c.get("name").asText(), c,
                        ref.get("tolerance").get("abs").asDouble()));
            }
        }
        return all.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void onnxRuntimeMatchesPyTorch(String id, String name, JsonNode c, double tol) throws Exception {
        Path file = (id.equals("emoji-tiny") ? Fixtures.emojiTiny().orElseThrow() : Fixtures.dir(id))
                .resolve(c.get("model").asText());
        try (OnnxModel model = OnnxModel.open(file, id + "/" + name, OnnxRuntimeOptions.cpu().withThreads(1))) {
            Map<String, OnnxTensor> feed = new HashMap<>();
            c.get("inputs").fields().forEachRemaining(e -> {
                JsonNode in = e.getValue();
                long[] shape = longs(in.get("shape"));
                int n = Math.toIntExact(FloatTensor.elementCount(shape));
                try {
                    if (in.get("dtype").asText().startsWith("int")) {
                        feed.put(e.getKey(), model.longInput(e.getKey(), longs(in.get("values")), shape));
                    } else {
                        feed.put(e.getKey(), model.floatInput(e.getKey(), values(in, n), shape));
                    }
                } catch (Exception ex) {
                    throw new IllegalStateException(ex);
                }
            });
            List<String> names = new ArrayList<>();
            c.get("outputs").fieldNames().forEachRemaining(names::add);
            Map<String, FloatTensor> out = model.run(feed, names.toArray(String[]::new));
            for (String o : names) {
                JsonNode want = c.get("outputs").get(o);
                FloatTensor got = out.get(o);
                assertArrayEquals(longs(want.get("shape")), got.shape(), o + " shape");
                float[] d = got.data();
                JsonNode first = want.get("first");
                for (int i = 0; i < first.size(); i++) {
                    assertEquals(first.get(i).asDouble(), d[i], tol, o + " value " + i);
                }
                int stride = want.get("strided").get("stride").asInt();
                JsonNode strided = want.get("strided").get("values");
                for (int i = 0; i < strided.size(); i++) {
                    assertEquals(strided.get(i).asDouble(), d[i * stride], tol, o + " value " + i * stride);
                }
                double sum = 0;
                double abs = 0;
                double min = Double.POSITIVE_INFINITY;
                double max = Double.NEGATIVE_INFINITY;
                for (float v : d) {
                    sum += v;
                    abs += Math.abs(v);
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
                assertEquals(want.get("sum").asDouble(), sum, tol * d.length, o + " sum");
                assertEquals(want.get("mean_abs").asDouble(), abs / d.length, tol, o + " mean |x|");
                assertEquals(want.get("min").asDouble(), min, tol, o + " min");
                assertEquals(want.get("max").asDouble(), max, tol, o + " max");
                assertTrue(want.get("mean_abs").asDouble() > 1e-3, "reference output is not trivially zero");
            }
        }
    }

    /** Rebuilds an input: listed values, or x[i] = scale·sin(freq·i + phase) in double rounded to float. */
    static float[] values(JsonNode in, int n) {
        float[] v = new float[n];
        if (in.has("sin")) {
            double scale = in.get("sin").get("scale").asDouble();
            double freq = in.get("sin").get("freq").asDouble();
            double phase = in.get("sin").get("phase").asDouble();
            for (int i = 0; i < n; i++) {
                v[i] = (float) (scale * Math.sin(freq * i + phase));
            }
        } else {
            for (int i = 0; i < n; i++) {
                v[i] = (float) in.get("values").get(i).asDouble();
            }
        }
        return v;
    }

    static long[] longs(JsonNode a) {
        long[] v = new long[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).asLong();
        }
        return v;
    }
}
