package dev.kiln.pipeline.model;

import ai.onnxruntime.OnnxJavaType;
import dev.kiln.pipeline.error.ModelLoadException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The inputs and outputs an ONNX file declares, read from its graph without loading its weights.
 *
 * <p>A gateway in distributed mode needs a package's conditioning layout (token count, context width, latent
 * channels), which lives in the input and output shapes of its text encoder and UNet, but never runs them;
 * opening ONNX Runtime sessions for that held every model's weights in its memory (gigabytes for Stable
 * Diffusion 1.5). This walks the protobuf wire format of {@code ModelProto.graph} and seeks past every field
 * it does not need, initializers and nodes included, so reading a signature costs a few reads of the file
 * whatever its size. Inputs that are also initializers (older exports list them) are left out, as ONNX
 * Runtime's session leaves them out.
 */
public final class OnnxSignature {
    private final Map<String, TensorSpec> inputs;
    private final Map<String, TensorSpec> outputs;

    private OnnxSignature(Map<String, TensorSpec> inputs, Map<String, TensorSpec> outputs) {
        this.inputs = inputs;
        this.outputs = outputs;
    }

    /** Inputs by name, in the graph's order, as an ONNX Runtime session reports them. */
    public Map<String, TensorSpec> inputs() {
        return inputs;
    }

    /** Outputs by name, in the graph's order. */
    public Map<String, TensorSpec> outputs() {
        return outputs;
    }

    /**
     * @throws ModelLoadException naming the file when it cannot be read or is not an ONNX model
     */
    public static OnnxSignature read(Path file, String label) {
        try (Wire in = new Wire(new RandomAccessFile(file.toFile(), "r"))) {
            List<TensorSpec> ins = new ArrayList<>();
            List<TensorSpec> outs = new ArrayList<>();
            Set<String> initializers = new HashSet<>();
            boolean graph = false;
            while (!in.atEnd()) {
                long tag = in.varint();
                if (tag >>> 3 == 7 && (tag & 7) == 2) { // ModelProto.graph
                    long end = in.position() + in.varint();
                    readGraph(in, end, ins, outs, initializers);
                    graph = true;
                } else {
                    in.skipField(tag);
                }
            }
            if (!graph) {
                throw new ModelLoadException(label + " is not a loadable ONNX model: it has no graph");
            }
            Map<String, TensorSpec> inputs = new LinkedHashMap<>();
            ins.stream().filter(s -> !initializers.contains(s.name())).forEach(s -> inputs.put(s.name(), s));
            Map<String, TensorSpec> outputs = new LinkedHashMap<>();
            outs.forEach(s -> outputs.put(s.name(), s));
            return new OnnxSignature(inputs, outputs);
        } catch (IOException | IllegalStateException e) {
            throw new ModelLoadException(label + " is not a loadable ONNX model: " + e.getMessage(), e);
        }
    }

    private static void readGraph(Wire in, long end, List<TensorSpec> ins, List<TensorSpec> outs,
                                  Set<String> initializers) throws IOException {
        while (in.position() < end) {
            long tag = in.varint();
            int field = (int) (tag >>> 3);
            if ((tag & 7) == 2 && (field == 11 || field == 12)) { // GraphProto.input, .output
                long valueEnd = in.position() + in.varint();
                (field == 11 ? ins : outs).add(valueInfo(in, valueEnd));
            } else if ((tag & 7) == 2 && field == 5) { // GraphProto.initializer: only its name
                long tensorEnd = in.position() + in.varint();
                while (in.position() < tensorEnd) {
                    long t = in.varint();
                    if (t >>> 3 == 8 && (t & 7) == 2) { // TensorProto.name
                        initializers.add(in.string());
                    } else {
                        in.skipField(t);
                    }
                }
            } else {
                in.skipField(tag);
            }
        }
    }

    private static TensorSpec valueInfo(Wire in, long end) throws IOException {
        String name = "";
        OnnxJavaType type = OnnxJavaType.UNKNOWN;
        List<Long> dims = new ArrayList<>();
        while (in.position() < end) {
            long tag = in.varint();
            if (tag >>> 3 == 1 && (tag & 7) == 2) { // ValueInfoProto.name
                name = in.string();
            } else if (tag >>> 3 == 2 && (tag & 7) == 2) { // ValueInfoProto.type
                long typeEnd = in.position() + in.varint();
                while (in.position() < typeEnd) {
                    long t = in.varint();
                    if (t >>> 3 == 1 && (t & 7) == 2) { // TypeProto.tensor_type
                        long tensorEnd = in.position() + in.varint();
                        while (in.position() < tensorEnd) {
                            long f = in.varint();
                            if (f >>> 3 == 1 && (f & 7) == 0) { // elem_type
                                type = elementType((int) in.varint());
                            } else if (f >>> 3 == 2 && (f & 7) == 2) { // shape
                                long shapeEnd = in.position() + in.varint();
                                while (in.position() < shapeEnd) {
                                    long d = in.varint();
                                    if (d >>> 3 == 1 && (d & 7) == 2) { // TensorShapeProto.dim
                                        dims.add(dimension(in, in.position() + in.varint()));
                                    } else {
                                        in.skipField(d);
                                    }
                                }
                            } else {
                                in.skipField(f);
                            }
                        }
                    } else {
                        in.skipField(t);
                    }
                }
            } else {
                in.skipField(tag);
            }
        }
        return new TensorSpec(name, type, dims.stream().mapToLong(Long::longValue).toArray());
    }

    /** A fixed size, or -1 for a named or missing one, as ONNX Runtime reports dynamic dimensions. */
    private static long dimension(Wire in, long end) throws IOException {
        long value = -1;
        while (in.position() < end) {
            long tag = in.varint();
            if (tag >>> 3 == 1 && (tag & 7) == 0) {
                value = in.varint();
            } else {
                in.skipField(tag);
            }
        }
        return value;
    }

    /** ONNX's {@code TensorProto.DataType} numbers as ONNX Runtime's Java types. */
    private static OnnxJavaType elementType(int onnx) {
        return switch (onnx) {
            case 1 -> OnnxJavaType.FLOAT;
            case 2 -> OnnxJavaType.UINT8;
            case 3 -> OnnxJavaType.INT8;
            case 5 -> OnnxJavaType.INT16;
            case 6 -> OnnxJavaType.INT32;
            case 7 -> OnnxJavaType.INT64;
            case 8 -> OnnxJavaType.STRING;
            case 9 -> OnnxJavaType.BOOL;
            case 10 -> OnnxJavaType.FLOAT16;
            case 11 -> OnnxJavaType.DOUBLE;
            case 16 -> OnnxJavaType.BFLOAT16;
            default -> OnnxJavaType.UNKNOWN;
        };
    }

    /** Protobuf's wire format over a file, buffered, skipping by seeking. */
    private static final class Wire implements AutoCloseable {
        private final RandomAccessFile file;
        private final long length;
        private final byte[] buf = new byte[8192];
        private long bufStart;
        private int bufLen;
        private long pos;

        Wire(RandomAccessFile file) throws IOException {
            this.file = file;
            this.length = file.length();
        }

        long position() {
            return pos;
        }

        boolean atEnd() {
            return pos >= length;
        }

        private int read() throws IOException {
            if (pos < bufStart || pos >= bufStart + bufLen) {
                if (pos >= length) {
                    throw new IllegalStateException("truncated at byte " + pos);
                }
                file.seek(pos);
                bufStart = pos;
                bufLen = file.read(buf, 0, (int) Math.min(buf.length, length - pos));
            }
            return buf[(int) (pos++ - bufStart)] & 0xff;
        }

        long varint() throws IOException {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                int b = read();
                v |= (long) (b & 0x7f) << shift;
                if (b < 0x80) {
                    return v;
                }
            }
            throw new IllegalStateException("malformed varint at byte " + pos);
        }

        String string() throws IOException {
            long n = varint();
            if (n < 0 || n > 1 << 20 || pos + n > length) {
                throw new IllegalStateException("implausible string length " + n + " at byte " + pos);
            }
            byte[] s = new byte[(int) n];
            for (int i = 0; i < n; i++) {
                s[i] = (byte) read();
            }
            return new String(s, StandardCharsets.UTF_8);
        }

        void skipField(long tag) throws IOException {
            switch ((int) (tag & 7)) {
                case 0 -> varint();
                case 1 -> seek(pos + 8);
                case 2 -> {
                    long n = varint();
                    seek(pos + n);
                }
                case 5 -> seek(pos + 4);
                default -> throw new IllegalStateException("unsupported wire type " + (tag & 7) + " at byte " + pos);
            }
        }

        private void seek(long to) {
            if (to < pos || to > length) {
                throw new IllegalStateException("field runs past the end of the file (byte " + to + " of " + length + ")");
            }
            pos = to;
        }

        @Override
        public void close() throws IOException {
            file.close();
        }
    }
}
