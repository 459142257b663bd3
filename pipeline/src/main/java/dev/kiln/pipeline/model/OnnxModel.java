package dev.kiln.pipeline.model;

import dev.kiln.pipeline.error.ModelLoadException;
import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.platform.Fp16Conversions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One ONNX model file with its session and the input and output specs it declares.
 *
 * <p>Specs are read from the session, never assumed, because exporters disagree on dtypes and ranks.
 * Inputs are given as floats or longs and converted here to whatever the model declares (float16,
 * int32, ...), so callers stay independent of the export flavour. The time spent inside
 * {@code OrtSession.run} is accumulated so benchmarks and metrics can separate runtime from overhead.
 */
public final class OnnxModel implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(OnnxModel.class);

    private final String label;
    private final OrtEnvironment env;
    private final OrtSession session;
    private final OnnxSignature signature;
    private final Map<String, TensorSpec> inputs;
    private final Map<String, TensorSpec> outputs;
    private final LongAdder runNanos = new LongAdder();
    private final LongAdder runCount = new LongAdder();

    private OnnxModel(String label, OrtEnvironment env, OrtSession session) throws OrtException {
        this.label = label;
        this.env = env;
        this.session = session;
        this.inputs = specs(session.getInputInfo());
        this.outputs = specs(session.getOutputInfo());
        this.signature = new OnnxSignature(label, inputs, outputs);
    }

    /**
     * Opens {@code file} (named {@code label} in errors, e.g. {@code unet/model.onnx}).
     *
     * @throws ModelLoadException naming the file when it is missing or not a loadable ONNX model
     */
    public static OnnxModel open(Path file, String label, OnnxRuntimeOptions options) {
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException(label + " is missing (looked for " + file + ")");
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
            so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            if (options.intraOpThreads() > 0) {
                so.setIntraOpNumThreads(options.intraOpThreads());
            }
            // Kiln does its own work (batching, scheduler steps, decoding) between runs on the same cores;
            // idle ORT workers spinning for the next run would take those cores from it (measured in bench/)
            so.addConfigEntry("session.intra_op.allow_spinning", "0");
            if (options.provider().equals("cuda")) {
                addCuda(so, options, label);
            }
            return new OnnxModel(label, env, env.createSession(file.toString(), so));
        } catch (OrtException e) {
            throw new ModelLoadException(label + " is not a loadable ONNX model: " + e.getMessage(), e);
        }
    }

    private static void addCuda(OrtSession.SessionOptions so, OnnxRuntimeOptions options, String label)
            throws OrtException {
        try {
            so.addCUDA(options.deviceId());
            LOG.info("{}: CUDA execution provider on device {}", label, options.deviceId());
        } catch (OrtException | UnsatisfiedLinkError | IllegalArgumentException e) {
            if (!options.allowCpuFallback()) {
                throw new ModelLoadException(label + ": the CUDA execution provider is not available ("
                        + e.getMessage() + "); build with -Pgpu on a CUDA 12 node, or allow the CPU fallback");
            }
            LOG.warn("{}: CUDA execution provider not available ({}); falling back to the CPU provider",
                    label, e.getMessage());
        }
    }

    private static Map<String, TensorSpec> specs(Map<String, NodeInfo> infos) {
        Map<String, TensorSpec> out = new LinkedHashMap<>();
        for (NodeInfo ni : infos.values()) {
            if (ni.getInfo() instanceof TensorInfo ti) {
                out.put(ni.getName(), new TensorSpec(ni.getName(), ti.type, ti.getShape()));
            }
        }
        return out;
    }

    public String label() {
        return label;
    }

    public Map<String, TensorSpec> inputs() {
        return inputs;
    }

    public Map<String, TensorSpec> outputs() {
        return outputs;
    }

    /** The inputs and outputs as the session reports them. */
    public OnnxSignature signature() {
        return signature;
    }

    public boolean hasInput(String name) {
        return inputs.containsKey(name);
    }

    /** The declared spec of input {@code name}; a {@link ModelLoadException} names what the model has instead. */
    public TensorSpec input(String name) {
        return signature.input(name);
    }

    /** Total nanoseconds spent inside {@code OrtSession.run} since the model was opened. */
    public long runNanos() {
        return runNanos.sum();
    }

    public long runCount() {
        return runCount.sum();
    }

    /** Creates an input tensor from floats, converted to the input's declared element type. */
    public OnnxTensor floatInput(String name, float[] data, long[] shape) throws OrtException {
        OnnxJavaType type = input(name).type();
        switch (type) {
            case FLOAT:
                return OnnxTensor.createTensor(env, directFloats(data), shape);
            case FLOAT16: {
                ShortBuffer sb = ByteBuffer.allocateDirect(data.length * 2).order(ByteOrder.nativeOrder()).asShortBuffer();
                for (float f : data) {
                    sb.put(Fp16Conversions.floatToFp16(f));
                }
                sb.rewind();
                return OnnxTensor.createTensor(env, sb, shape, OnnxJavaType.FLOAT16);
            }
            case DOUBLE: {
                double[] d = new double[data.length];
                for (int i = 0; i < d.length; i++) {
                    d[i] = data[i];
                }
                return OnnxTensor.createTensor(env, java.nio.DoubleBuffer.wrap(d), shape);
            }
            case INT64: {
                long[] l = new long[data.length];
                for (int i = 0; i < l.length; i++) {
                    l[i] = Math.round(data[i]);
                }
                return OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(l), shape);
            }
            case INT32: {
                int[] v = new int[data.length];
                for (int i = 0; i < v.length; i++) {
                    v[i] = Math.round(data[i]);
                }
                return OnnxTensor.createTensor(env, java.nio.IntBuffer.wrap(v), shape);
            }
            default:
                throw new ModelLoadException(label + ": input '" + name + "' has unsupported type " + type);
        }
    }

    /**
     * Creates a float input from equally sized items stacked along a new leading dimension, written
     * straight into the tensor's buffer (no intermediate stacked copy).
     */
    public OnnxTensor floatInput(String name, java.util.List<float[]> items, long[] shape) throws OrtException {
        if (input(name).type() != OnnxJavaType.FLOAT) {
            float[] all = new float[items.stream().mapToInt(a -> a.length).sum()];
            int at = 0;
            for (float[] it : items) {
                System.arraycopy(it, 0, all, at, it.length);
                at += it.length;
            }
            return floatInput(name, all, shape);
        }
        int n = items.stream().mapToInt(a -> a.length).sum();
        FloatBuffer fb = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        for (float[] it : items) {
            fb.put(it);
        }
        fb.rewind();
        return OnnxTensor.createTensor(env, fb, shape);
    }

    /** Creates an input tensor from integers (token ids, masks), converted to the declared element type. */
    public OnnxTensor longInput(String name, long[] data, long[] shape) throws OrtException {
        OnnxJavaType type = input(name).type();
        switch (type) {
            case INT64:
                return OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(data), shape);
            case INT32: {
                int[] v = new int[data.length];
                for (int i = 0; i < v.length; i++) {
                    v[i] = Math.toIntExact(data[i]);
                }
                return OnnxTensor.createTensor(env, java.nio.IntBuffer.wrap(v), shape);
            }
            default: {
                float[] f = new float[data.length];
                for (int i = 0; i < f.length; i++) {
                    f[i] = data[i];
                }
                return floatInput(name, f, shape);
            }
        }
    }

    /**
     * Native memory for up to {@code rows} rows of input {@code name}, each of {@code rowShape}, in the input's
     * declared element type, to be fed call after call (see {@link #runPinned}).
     */
    public PinnedTensor pinnedInput(String name, long[] rowShape, int rows) {
        return new PinnedTensor(env, label + " input '" + name + "'", input(name).type(), rowShape, rows);
    }

    /**
     * Native memory that output {@code name} is written into, or empty when the output's element type cannot
     * be read as floats or its declared shape rules out rows of {@code rowShape}.
     */
    public java.util.Optional<PinnedTensor> pinnedOutput(String name, long[] rowShape, int rows) {
        TensorSpec spec = outputs.get(name);
        if (spec == null) {
            throw new ModelLoadException(label + " has no output '" + name + "' (outputs: " + outputs.keySet() + ")");
        }
        OnnxJavaType type = spec.type();
        if (type != OnnxJavaType.FLOAT && type != OnnxJavaType.FLOAT16 && type != OnnxJavaType.DOUBLE) {
            return java.util.Optional.empty();
        }
        long[] declared = spec.shape();
        if (declared.length != rowShape.length + 1) {
            return java.util.Optional.empty();
        }
        for (int i = 0; i < rowShape.length; i++) {
            if (declared[i + 1] >= 0 && declared[i + 1] != rowShape[i]) {
                return java.util.Optional.empty();
            }
        }
        return java.util.Optional.of(new PinnedTensor(env, label + " output '" + name + "'", type, rowShape, rows));
    }

    /**
     * Runs the session with caller-owned inputs, writing the outputs into the caller's pinned tensors; closes
     * nothing. Only the session call is counted in {@link #runNanos()}.
     *
     * @throws ModelLoadException (a model fault, not a request fault) when the runtime rejects the call
     */
    public void runPinned(Map<String, OnnxTensor> feed, Map<String, OnnxTensor> outputs) {
        long t0 = System.nanoTime();
        try (OrtSession.Result result = session.run(feed, outputs)) {
            runNanos.add(System.nanoTime() - t0);
            runCount.increment();
        } catch (OrtException e) {
            throw new ModelLoadException(label + " failed to run: " + e.getMessage(), e);
        }
    }

    private static FloatBuffer directFloats(float[] data) {
        FloatBuffer fb = ByteBuffer.allocateDirect(data.length * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        fb.put(data).rewind();
        return fb;
    }

    /**
     * Runs the session and returns the requested outputs as float tensors. Closes the given inputs.
     *
     * @throws ModelLoadException (a model fault, not a request fault) when the runtime rejects the call
     */
    public Map<String, dev.kiln.pipeline.tensor.FloatTensor> run(Map<String, OnnxTensor> feed, String... outputNames) {
        return run(feed, java.util.Set.of(), outputNames);
    }

    /**
     * Like {@link #run(Map, String...)}, but leaves the inputs in {@code keepOpen} open, for a caller that
     * feeds the same tensor to several runs (the denoiser's conditioning, unchanged from step to step).
     */
    public Map<String, dev.kiln.pipeline.tensor.FloatTensor> run(Map<String, OnnxTensor> feed,
                                                                 java.util.Set<OnnxTensor> keepOpen,
                                                                 String... outputNames) {
        long t0 = System.nanoTime();
        try (OrtSession.Result result = session.run(feed, java.util.Set.of(outputNames))) {
            runNanos.add(System.nanoTime() - t0);
            runCount.increment();
            Map<String, dev.kiln.pipeline.tensor.FloatTensor> out = new LinkedHashMap<>();
            for (String n : outputNames) {
                OnnxValue v = result.get(n).orElseThrow();
                out.put(n, toFloatTensor((OnnxTensor) v));
            }
            return out;
        } catch (OrtException e) {
            throw new ModelLoadException(label + " failed to run: " + e.getMessage(), e);
        } finally {
            for (OnnxTensor t : feed.values()) {
                if (!keepOpen.contains(t)) {
                    t.close();
                }
            }
        }
    }

    private static dev.kiln.pipeline.tensor.FloatTensor toFloatTensor(OnnxTensor t) {
        long[] shape = t.getInfo().getShape();
        float[] data;
        switch (t.getInfo().type) {
            case FLOAT -> {
                // getFloatBuffer() already copies into a fresh heap buffer: take its array instead of copying again
                FloatBuffer fb = t.getFloatBuffer();
                if (fb.hasArray() && fb.arrayOffset() == 0 && fb.position() == 0 && fb.array().length == fb.remaining()) {
                    data = fb.array();
                } else {
                    data = new float[fb.remaining()];
                    fb.get(data);
                }
            }
            case FLOAT16 -> {
                ShortBuffer sb = t.getShortBuffer();
                data = new float[sb.remaining()];
                for (int i = 0; i < data.length; i++) {
                    data[i] = Fp16Conversions.fp16ToFloat(sb.get(i));
                }
            }
            case DOUBLE -> {
                java.nio.DoubleBuffer db = t.getDoubleBuffer();
                data = new float[db.remaining()];
                for (int i = 0; i < data.length; i++) {
                    data[i] = (float) db.get(i);
                }
            }
            default -> throw new ModelLoadException("output of unsupported type " + t.getInfo().type);
        }
        return new dev.kiln.pipeline.tensor.FloatTensor(data, shape);
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            LOG.warn("closing {}: {}", label, e.getMessage());
        }
    }
}
