package dev.kiln.pipeline.model;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.platform.Fp16Conversions;
import dev.kiln.pipeline.error.ModelLoadException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * Native memory for one input or output of a model, kept from call to call, holding up to
 * {@code capacity} rows of one shape in the element type the model declares.
 *
 * <p>ONNX Runtime reads inputs from and writes pinned outputs into this memory directly, so a caller that
 * calls a model over and over (the denoiser, every step) rewrites only what changed instead of allocating,
 * zeroing and copying whole tensors each call. {@link #view(int)} gives a tensor over the first rows;
 * views of every row count share the same memory. Not thread-safe.
 */
public final class PinnedTensor implements AutoCloseable {
    private final OrtEnvironment env;
    private final String label;
    private final OnnxJavaType type;
    private final long[] rowShape;
    private final int rowSize;
    private final int capacity;
    private final ByteBuffer memory;
    private final FloatBuffer floats;
    private final OnnxTensor[] views;
    private OnnxTensor scalar;

    PinnedTensor(OrtEnvironment env, String label, OnnxJavaType type, long[] rowShape, int capacity) {
        switch (type) {
            case FLOAT, FLOAT16, DOUBLE, INT64, INT32 -> { }
            default -> throw new ModelLoadException(label + " has unsupported type " + type);
        }
        this.env = env;
        this.label = label;
        this.type = type;
        this.rowShape = rowShape.clone();
        this.rowSize = Math.toIntExact(dev.kiln.pipeline.tensor.FloatTensor.elementCount(rowShape));
        this.capacity = capacity;
        this.memory = ByteBuffer.allocateDirect(Math.multiplyExact(Math.multiplyExact(rowSize, capacity), type.size))
                .order(ByteOrder.nativeOrder());
        this.floats = memory.asFloatBuffer();
        this.views = new OnnxTensor[capacity + 1];
    }

    public int capacity() {
        return capacity;
    }

    public int rowSize() {
        return rowSize;
    }

    /** A tensor [rows, ...row shape] over the first {@code rows} rows; owned by this object, not to be closed. */
    public OnnxTensor view(int rows) {
        if (rows < 1 || rows > capacity) {
            throw new IllegalArgumentException(label + ": " + rows + " rows, room for " + capacity);
        }
        if (views[rows] == null) {
            long[] shape = new long[rowShape.length + 1];
            shape[0] = rows;
            System.arraycopy(rowShape, 0, shape, 1, rowShape.length);
            views[rows] = tensor(rows * rowSize, shape);
        }
        return views[rows];
    }

    /** A rank-0 tensor over the first element, for exports that take a scalar. */
    public OnnxTensor scalar() {
        if (scalar == null) {
            scalar = tensor(1, new long[0]);
        }
        return scalar;
    }

    private OnnxTensor tensor(int elements, long[] shape) {
        ByteBuffer slice = memory.duplicate().order(ByteOrder.nativeOrder());
        slice.position(0).limit(elements * type.size);
        try {
            OnnxTensor t = OnnxTensor.createTensor(env, slice.slice().order(ByteOrder.nativeOrder()), shape, type);
            if (t.ownsBuffer()) {
                // a copy would go stale after the first write; never expected for a direct buffer
                t.close();
                throw new ModelLoadException(label + ": ONNX Runtime copied pinned memory instead of using it");
            }
            return t;
        } catch (OrtException e) {
            throw new ModelLoadException(label + ": cannot create a tensor over pinned memory: " + e.getMessage(), e);
        }
    }

    /** Writes {@code values} at element {@code offset}, converted to the element type as {@link OnnxModel#floatInput} does. */
    public void put(int offset, float[] values) {
        put(offset, values, 0, values.length);
    }

    /** Writes {@code count} values from {@code values[from]} at element {@code offset}. */
    public void put(int offset, float[] values, int from, int count) {
        switch (type) {
            case FLOAT -> floats.put(offset, values, from, count);
            case FLOAT16 -> {
                for (int i = 0; i < count; i++) {
                    memory.putShort((offset + i) * 2, Fp16Conversions.floatToFp16(values[from + i]));
                }
            }
            case DOUBLE -> {
                for (int i = 0; i < count; i++) {
                    memory.putDouble((offset + i) * 8, values[from + i]);
                }
            }
            case INT64 -> {
                for (int i = 0; i < count; i++) {
                    memory.putLong((offset + i) * 8, Math.round(values[from + i]));
                }
            }
            case INT32 -> {
                for (int i = 0; i < count; i++) {
                    memory.putInt((offset + i) * 4, Math.round(values[from + i]));
                }
            }
            default -> throw new IllegalStateException(type.toString());
        }
    }

    /** Reads {@code count} values from element {@code offset} into {@code out[to]}, as floats. */
    public void get(int offset, float[] out, int to, int count) {
        switch (type) {
            case FLOAT -> floats.get(offset, out, to, count);
            case FLOAT16 -> {
                for (int i = 0; i < count; i++) {
                    out[to + i] = Fp16Conversions.fp16ToFloat(memory.getShort((offset + i) * 2));
                }
            }
            case DOUBLE -> {
                for (int i = 0; i < count; i++) {
                    out[to + i] = (float) memory.getDouble((offset + i) * 8);
                }
            }
            default -> throw new ModelLoadException(label + ": cannot read " + type + " as floats");
        }
    }

    @Override
    public void close() {
        for (int i = 0; i < views.length; i++) {
            if (views[i] != null) {
                views[i].close();
                views[i] = null;
            }
        }
        if (scalar != null) {
            scalar.close();
            scalar = null;
        }
    }
}
