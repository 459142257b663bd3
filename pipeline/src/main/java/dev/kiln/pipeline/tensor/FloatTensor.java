package dev.kiln.pipeline.tensor;

import java.util.Arrays;

/**
 * A dense float32 tensor in row-major order: the currency between stages.
 *
 * <p>Kept deliberately plain (an array and a shape) so that it crosses gRPC as dtype + shape + raw
 * bytes without conversion, and so that per-image slices are cheap to cut and join.
 */
public record FloatTensor(float[] data, long[] shape) {

    public FloatTensor {
        long n = elementCount(shape);
        if (n != data.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + n
                    + " values, got " + data.length);
        }
    }

    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Size of the leading (batch) dimension. */
    public int batch() {
        return (int) shape[0];
    }

    /** Number of values in one item of the leading dimension. */
    public int itemSize() {
        return data.length / Math.max(1, batch());
    }

    /** Item {@code i} of the leading dimension, as its own tensor with batch 1. */
    public FloatTensor item(int i) {
        int size = itemSize();
        long[] s = shape.clone();
        s[0] = 1;
        return new FloatTensor(Arrays.copyOfRange(data, i * size, (i + 1) * size), s);
    }

    /** Item {@code i} of the leading dimension, as a flat array. */
    public float[] itemData(int i) {
        int size = itemSize();
        return Arrays.copyOfRange(data, i * size, (i + 1) * size);
    }

    /** Stacks equally shaped items (each without batch dimension) along a new leading dimension. */
    public static FloatTensor stack(java.util.List<float[]> items, long... itemShape) {
        int size = (int) elementCount(itemShape);
        float[] out = new float[items.size() * size];
        for (int i = 0; i < items.size(); i++) {
            float[] it = items.get(i);
            if (it.length != size) {
                throw new IllegalArgumentException("item " + i + " has " + it.length + " values, expected " + size);
            }
            System.arraycopy(it, 0, out, i * size, size);
        }
        long[] s = new long[itemShape.length + 1];
        s[0] = items.size();
        System.arraycopy(itemShape, 0, s, 1, itemShape.length);
        return new FloatTensor(out, s);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FloatTensor t && Arrays.equals(data, t.data) && Arrays.equals(shape, t.shape);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(data) + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return "FloatTensor" + Arrays.toString(shape);
    }
}
