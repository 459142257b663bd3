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
    // The fields read, as protobuf tags (field number << 3 | wire type: 0 varint, 2 length-delimited) of onnx.proto
    private static final int MODEL_GRAPH = 7 << 3 | 2;          // ModelProto.graph
    private static final int GRAPH_INITIALIZER = 5 << 3 | 2;    // GraphProto.initializer
    private static final int GRAPH_INPUT = 11 << 3 | 2;         // GraphProto.input
    private static final int GRAPH_OUTPUT = 12 << 3 | 2;        // GraphProto.output
    private static final int TENSOR_NAME = 8 << 3 | 2;          // TensorProto.name
    private static final int VALUE_NAME = 1 << 3 | 2;           // ValueInfoProto.name
    private static final int VALUE_TYPE = 2 << 3 | 2;           // ValueInfoProto.type
    private static final int TYPE_TENSOR = 1 << 3 | 2;          // TypeProto.tensor_type
    private static final int TENSOR_ELEM_TYPE = 1 << 3;         // TypeProto.Tensor.elem_type
    private static final int TENSOR_SHAPE = 2 << 3 | 2;         // TypeProto.Tensor.shape
    private static final int SHAPE_DIM = 1 << 3 | 2;            // TensorShapeProto.dim
    private static final int DIM_VALUE = 1 << 3;                // TensorShapeProto.Dimension.dim_value

    private final String label;
    private final Map<String, TensorSpec> inputs;
    private final Map<String, TensorSpec> outputs;

    /**
     * @param label names the model in errors, e.g. {@code unet/model.onnx}
     */
    public OnnxSignature(String label, Map<String, TensorSpec> inputs, Map<String, TensorSpec> outputs) {
        this.label = label;
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

    /** The declared spec of input {@code name}; a {@link ModelLoadException} names what the model has instead. */
    public TensorSpec input(String name) {
        TensorSpec s = inputs.get(name);
        if (s == null) {
            throw new ModelLoadException(label + " has no input '" + name + "' (inputs: " + inputs.keySet() + ")");
        }
        return s;
    }

    /**
     * @throws ModelLoadException naming the file when it cannot be read or is not an ONNX model
     */
    public static OnnxSignature read(Path file, String label) {
        try (Wire in = new Wire(new RandomAccessFile(file.toFile(), "r"))) {
            List<TensorSpec> ins = new ArrayList<>();
            List<TensorSpec> outs = new ArrayList<>();
            Set<String> initializers = new HashSet<>();
            boolean[] graph = {false};
            in.fields(in.length(), tag -> {
                if (tag != MODEL_GRAPH) {
                    return false;
                }
                readGraph(in, in.messageEnd(), ins, outs, initializers);
                graph[0] = true;
                return true;
            });
            if (!graph[0]) {
                throw new ModelLoadException(label + " is not a loadable ONNX model: it has no graph");
            }
            Map<String, TensorSpec> inputs = new LinkedHashMap<>();
            ins.stream().filter(s -> !initializers.contains(s.name())).forEach(s -> inputs.put(s.name(), s));
            Map<String, TensorSpec> outputs = new LinkedHashMap<>();
            outs.forEach(s -> outputs.put(s.name(), s));
            return new OnnxSignature(label, inputs, outputs);
        } catch (IOException | IllegalStateException e) {
            throw new ModelLoadException(label + " is not a loadable ONNX model: " + e.getMessage(), e);
        }
    }

    private static void readGraph(Wire in, long end, List<TensorSpec> ins, List<TensorSpec> outs,
                                  Set<String> initializers) throws IOException {
        in.fields(end, tag -> switch (tag) {
            case GRAPH_INPUT -> ins.add(valueInfo(in, in.messageEnd()));
            case GRAPH_OUTPUT -> outs.add(valueInfo(in, in.messageEnd()));
            case GRAPH_INITIALIZER -> { // only its name
                in.fields(in.messageEnd(), t -> {
                    if (t != TENSOR_NAME) {
                        return false;
                    }
                    initializers.add(in.string());
                    return true;
                });
                yield true;
            }
            default -> false;
        });
    }

    private static TensorSpec valueInfo(Wire in, long end) throws IOException {
        String[] name = {""};
        OnnxJavaType[] type = {OnnxJavaType.UNKNOWN};
        List<Long> dims = new ArrayList<>();
        in.fields(end, tag -> switch (tag) {
            case VALUE_NAME -> {
                name[0] = in.string();
                yield true;
            }
            case VALUE_TYPE -> {
                in.fields(in.messageEnd(), t -> t == TYPE_TENSOR && tensorType(in, in.messageEnd(), type, dims));
                yield true;
            }
            default -> false;
        });
        return new TensorSpec(name[0], type[0], dims.stream().mapToLong(Long::longValue).toArray());
    }

    /** {@code TypeProto.Tensor}: the element type, and the shape's dimensions. */
    private static boolean tensorType(Wire in, long end, OnnxJavaType[] type, List<Long> dims) throws IOException {
        in.fields(end, tag -> switch (tag) {
            case TENSOR_ELEM_TYPE -> {
                type[0] = elementType((int) in.varint());
                yield true;
            }
            case TENSOR_SHAPE -> {
                in.fields(in.messageEnd(), t -> t == SHAPE_DIM && dims.add(dimension(in, in.messageEnd())));
                yield true;
            }
            default -> false;
        });
        return true;
    }

    /** A fixed size, or -1 for a named or missing one, as ONNX Runtime reports dynamic dimensions. */
    private static long dimension(Wire in, long end) throws IOException {
        long[] value = {-1};
        in.fields(end, tag -> {
            if (tag != DIM_VALUE) {
                return false;
            }
            value[0] = in.varint();
            return true;
        });
        return value[0];
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

    /** What a message does with one of its fields, given its tag: true when it read it, false to have it skipped. */
    @FunctionalInterface
    private interface Field {
        boolean take(int tag) throws IOException;
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

        long length() {
            return length;
        }

        /**
         * Reads the fields of a message ending at byte {@code end}: each goes to {@code field} by its tag, and one
         * it does not take (answers false) is skipped.
         */
        void fields(long end, Field field) throws IOException {
            while (pos < end) {
                long tag = varint();
                if (tag > Integer.MAX_VALUE || !field.take((int) tag)) {
                    skipField(tag);
                }
            }
        }

        /** Where the length-delimited field whose tag was just read ends (reading its length). */
        long messageEnd() throws IOException {
            return pos + varint();
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
