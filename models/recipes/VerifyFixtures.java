import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks the fixtures that models/recipes/fixtures.py wrote, from the Java side, with the same
 * libraries Kiln uses (DJL's Hugging Face tokenizers, ONNX Runtime):
 *
 * <ol>
 *   <li>each package's tokenizer/tokenizer.json loads and encodes the prompts of
 *       tokenizer-reference.json to the Python reference ids (after Kiln's pad/truncate rule);</li>
 *   <li>each package's reference.json cases, run through ONNX Runtime, match PyTorch's numbers;</li>
 *   <li>the dynamic axes work: batch 3 and a non-square size other than the export's.</li>
 * </ol>
 *
 * A development tool, not part of the build (the pipeline's tests own the real checks). Run from
 * the repository root with a single-file launch; see models/recipes/README.md for the classpath.
 * Exits 1 when anything differs.
 */
public class VerifyFixtures {
    private static final List<String> PACKAGES = List.of("sd15-tiny-diffusers", "sd15-tiny-optimum", "sd15-tiny-kiln");
    private static int failures = 0;

    public static void main(String[] args) throws Exception {
        Path root = Path.of(args.length > 0 ? args[0] : "models/fixtures");
        JsonObject tokRef = read(root.resolve("tokenizer-reference.json"));
        for (String pkg : PACKAGES) {
            Path json = root.resolve(pkg).resolve("tokenizer/tokenizer.json");
            if (Files.isRegularFile(json)) {
                checkTokenizer(pkg, json, tokRef);
            }
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        for (String pkg : PACKAGES) {
            checkReference(env, root.resolve(pkg));
        }
        System.out.println(failures == 0 ? "ALL OK" : failures + " FAILURE(S)");
        System.exit(failures == 0 ? 0 : 1);
    }

    static JsonObject read(Path p) throws IOException {
        return JsonParser.parseString(Files.readString(p)).getAsJsonObject();
    }

    static void fail(String message) {
        failures++;
        System.out.println("  FAIL " + message);
    }

    // -- tokenizer ---------------------------------------------------------------------------

    static void checkTokenizer(String pkg, Path json, JsonObject ref) throws IOException {
        int maxTokens = ref.get("max_tokens").getAsInt();
        long eos = ref.get("eos_id").getAsLong();
        System.out.println(pkg + ": tokenizer.json");
        // the plain one-argument load the brief names must work...
        try (HuggingFaceTokenizer plain = HuggingFaceTokenizer.newInstance(json)) {
            System.out.println("  loads with newInstance(Path); \"a photo\" -> " + Arrays.toString(plain.encode("a photo").getIds()));
        }
        // ...and the options Kiln's PromptTokenizer passes (it pads and truncates itself)
        Map<String, String> options = Map.of("addSpecialTokens", "true", "padding", "false", "truncation", "false");
        try (HuggingFaceTokenizer tok = HuggingFaceTokenizer.newInstance(json, options)) {
            for (JsonElement e : ref.getAsJsonArray("prompts")) {
                JsonObject p = e.getAsJsonObject();
                String prompt = p.get("prompt").getAsString();
                long[] raw = tok.encode(prompt).getIds();
                long[] ids = fit(raw, maxTokens, eos);
                long[] expected = longs(p.getAsJsonArray("ids"));
                if (raw.length != p.get("length").getAsInt() || !Arrays.equals(ids, expected)) {
                    fail(pkg + " tokenizer: " + quote(prompt) + "\n    java   " + Arrays.toString(raw)
                            + "\n    python " + Arrays.toString(expected));
                } else {
                    System.out.println("  ok " + quote(prompt) + " (" + raw.length + " ids)");
                }
            }
            long[] ids = longs(ref.getAsJsonArray("prompts").get(0).getAsJsonObject().getAsJsonArray("ids"));
            System.out.println("  decode(ids of prompt 0, skip special) = "
                    + quote(tok.decode(Arrays.copyOf(ids, 12), true)));
        }
    }

    /** Kiln's rule (and CLIP's): pad with eos; when too long keep the first max-1 ids and the last. */
    static long[] fit(long[] raw, int max, long pad) {
        long[] ids = new long[max];
        Arrays.fill(ids, pad);
        if (raw.length > max) {
            System.arraycopy(raw, 0, ids, 0, max - 1);
            ids[max - 1] = raw[raw.length - 1];
        } else {
            System.arraycopy(raw, 0, ids, 0, raw.length);
        }
        return ids;
    }

    static String quote(String s) {
        String q = s.replace("\n", "\\n").replace("\t", "\\t");
        return "\"" + (q.length() > 50 ? q.substring(0, 50) + "…" : q) + "\"";
    }

    // -- models ------------------------------------------------------------------------------

    static void checkReference(OrtEnvironment env, Path pkg) throws Exception {
        JsonObject ref = read(pkg.resolve("reference.json"));
        double tol = ref.getAsJsonObject("tolerance").get("abs").getAsDouble();
        System.out.println(pkg.getFileName() + ": reference.json");
        Map<String, OrtSession> sessions = new HashMap<>();
        try {
            for (JsonElement e : ref.getAsJsonArray("cases")) {
                JsonObject c = e.getAsJsonObject();
                String model = c.get("model").getAsString();
                OrtSession session = sessions.get(model);
                if (session == null) {
                    session = env.createSession(pkg.resolve(model).toString(), new OrtSession.SessionOptions());
                    sessions.put(model, session);
                    describe(model, session);
                }
                runCase(env, session, c, tol);
            }
            checkDynamicShapes(env, sessions);
        } finally {
            for (OrtSession s : sessions.values()) {
                s.close();
            }
        }
    }

    /**
     * Runs every model at batch 3 and a 16x24 latent (128x192 pixels), none of which the exporter
     * traced with, and checks the output shapes. Input dtypes and ranks come from the sessions, as
     * Kiln reads them.
     */
    static void checkDynamicShapes(OrtEnvironment env, Map<String, OrtSession> sessions) throws Exception {
        long b = 3, h = 16, w = 24;
        Map<String, long[][]> plan = Map.of(
                "text_encoder/model.onnx", new long[][] {{b, 77}},
                "unet/model.onnx", new long[][] {{b, 4, h, w}, {b}, {b, 77, 768}, {b, 77, 768}},
                "vae_encoder/model.onnx", new long[][] {{b, 3, 8 * h, 8 * w}},
                "vae_decoder/model.onnx", new long[][] {{b, 4, h, w}});
        for (Map.Entry<String, OrtSession> e : sessions.entrySet()) {
            OrtSession s = e.getValue();
            long[][] shapes = plan.get(e.getKey());
            Map<String, OnnxTensor> feed = new HashMap<>();
            try {
                int i = 0;
                for (NodeInfo n : s.getInputInfo().values()) {
                    TensorInfo info = (TensorInfo) n.getInfo();
                    long[] shape = info.getShape().length == 0 ? new long[0] : shapes[i];
                    i++;
                    int count = (int) Arrays.stream(shape).reduce(1, (x, y) -> x * y);
                    JsonObject spec = new JsonObject();
                    spec.add("shape", JsonParser.parseString(Arrays.toString(shape)));
                    switch (info.type) {
                        case FLOAT -> {
                            spec.addProperty("dtype", "float32");
                            JsonObject sin = new JsonObject();
                            sin.addProperty("scale", n.getName().equals("timestep") ? 0 : 1);
                            sin.addProperty("freq", 0.1);
                            sin.addProperty("phase", n.getName().equals("timestep") ? 0 : 0.5);
                            spec.add("sin", sin);
                        }
                        case INT32, INT64 -> {
                            spec.addProperty("dtype", info.type == OnnxJavaType.INT32 ? "int32" : "int64");
                            JsonArray values = new JsonArray();
                            for (int k = 0; k < count; k++) {
                                values.add(k % 77 == 0 ? 912 : k % 77 < 5 ? 320 + k % 77 : 913);
                            }
                            spec.add("values", values);
                        }
                        default -> throw new IllegalStateException(n.getName() + ": unexpected type " + info.type);
                    }
                    feed.put(n.getName(), tensor(env, spec));
                }
                try (OrtSession.Result r = s.run(feed)) {
                    StringBuilder shapesOut = new StringBuilder();
                    r.forEach(o -> {
                        try {
                            shapesOut.append(' ').append(o.getKey())
                                    .append(Arrays.toString(((OnnxTensor) o.getValue()).getInfo().getShape()));
                        } catch (Exception ex) {
                            throw new RuntimeException(ex);
                        }
                    });
                    String out = shapesOut.toString();
                    String expected = switch (e.getKey()) {
                        case "text_encoder/model.onnx" -> "[3, 77, 768]";
                        case "unet/model.onnx" -> "[3, 4, 16, 24]";
                        case "vae_encoder/model.onnx" -> ", 16, 24]";
                        default -> "[3, 3, 128, 192]";
                    };
                    if (out.contains(expected) && out.contains("[3,")) {
                        System.out.println("  ok dynamic " + e.getKey() + " ->" + out);
                    } else {
                        fail("dynamic " + e.getKey() + " ->" + out);
                    }
                }
            } finally {
                feed.values().forEach(OnnxTensor::close);
            }
        }
    }

    static void describe(String model, OrtSession s) throws Exception {
        StringBuilder b = new StringBuilder("  " + model + ":");
        for (NodeInfo n : s.getInputInfo().values()) {
            TensorInfo t = (TensorInfo) n.getInfo();
            b.append(' ').append(n.getName()).append(' ').append(t.type).append(Arrays.toString(t.getShape()));
        }
        b.append(" ->");
        for (NodeInfo n : s.getOutputInfo().values()) {
            TensorInfo t = (TensorInfo) n.getInfo();
            b.append(' ').append(n.getName()).append(' ').append(t.type).append(Arrays.toString(t.getShape()));
        }
        System.out.println(b);
    }

    static void runCase(OrtEnvironment env, OrtSession session, JsonObject c, double tol) throws Exception {
        Map<String, OnnxTensor> feed = new HashMap<>();
        try {
            for (Map.Entry<String, JsonElement> in : c.getAsJsonObject("inputs").entrySet()) {
                feed.put(in.getKey(), tensor(env, in.getValue().getAsJsonObject()));
            }
            try (OrtSession.Result result = session.run(feed)) {
                for (Map.Entry<String, JsonElement> out : c.getAsJsonObject("outputs").entrySet()) {
                    OnnxTensor t = (OnnxTensor) result.get(out.getKey()).orElseThrow();
                    compare(c.get("name").getAsString() + "." + out.getKey(), t, out.getValue().getAsJsonObject(), tol);
                }
            }
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    static OnnxTensor tensor(OrtEnvironment env, JsonObject spec) throws Exception {
        long[] shape = longs(spec.getAsJsonArray("shape"));
        int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        String dtype = spec.get("dtype").getAsString();
        if (dtype.equals("float32")) {
            float[] v = new float[n];
            if (spec.has("sin")) {
                JsonObject s = spec.getAsJsonObject("sin");
                double scale = s.get("scale").getAsDouble(), freq = s.get("freq").getAsDouble(), phase = s.get("phase").getAsDouble();
                for (int i = 0; i < n; i++) {
                    v[i] = (float) (scale * Math.sin(freq * i + phase));
                }
            } else {
                JsonArray a = spec.getAsJsonArray("values");
                for (int i = 0; i < n; i++) {
                    v[i] = a.get(i).getAsFloat();
                }
            }
            return OnnxTensor.createTensor(env, FloatBuffer.wrap(v), shape);
        }
        long[] values = longs(spec.getAsJsonArray("values"));
        if (dtype.equals("int64")) {
            return OnnxTensor.createTensor(env, LongBuffer.wrap(values), shape);
        }
        return OnnxTensor.createTensor(env, IntBuffer.wrap(Arrays.stream(values).mapToInt(x -> (int) x).toArray()), shape);
    }

    static void compare(String label, OnnxTensor t, JsonObject expected, double tol) {
        long[] shape = t.getInfo().getShape();
        if (!Arrays.equals(shape, longs(expected.getAsJsonArray("shape")))) {
            fail(label + ": shape " + Arrays.toString(shape) + ", expected " + expected.get("shape"));
            return;
        }
        FloatBuffer buf = t.getFloatBuffer();
        float[] v = new float[buf.remaining()];
        buf.get(v);
        double worst = 0;
        JsonArray first = expected.getAsJsonArray("first");
        for (int i = 0; i < first.size(); i++) {
            worst = Math.max(worst, Math.abs(v[i] - first.get(i).getAsDouble()));
        }
        JsonObject strided = expected.getAsJsonObject("strided");
        int stride = strided.get("stride").getAsInt();
        JsonArray sv = strided.getAsJsonArray("values");
        for (int i = 0; i < sv.size(); i++) {
            worst = Math.max(worst, Math.abs(v[i * stride] - sv.get(i).getAsDouble()));
        }
        double sum = 0, meanAbs = 0, min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
        for (float x : v) {
            sum += x;
            meanAbs += Math.abs(x);
            min = Math.min(min, x);
            max = Math.max(max, x);
        }
        meanAbs /= v.length;
        worst = Math.max(worst, Math.abs(meanAbs - expected.get("mean_abs").getAsDouble()));
        worst = Math.max(worst, Math.abs(min - expected.get("min").getAsDouble()));
        worst = Math.max(worst, Math.abs(max - expected.get("max").getAsDouble()));
        double sumErr = Math.abs(sum - expected.get("sum").getAsDouble());
        String line = String.format("%s %s max|diff| %.2e, sum diff %.2e", label, Arrays.toString(shape), worst, sumErr);
        if (worst > tol || sumErr > tol * v.length) {
            fail(line);
        } else {
            System.out.println("  ok " + line);
        }
    }

    static long[] longs(JsonArray a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsLong();
        }
        return out;
    }
}
