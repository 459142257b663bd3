package dev.kiln.pipeline.model;

import ai.onnxruntime.OnnxJavaType;
import java.util.Arrays;

/**
 * The declared name, element type and shape of one model input or output, as the ONNX session
 * reports it. Dimensions that the export left dynamic are -1.
 */
public record TensorSpec(String name, OnnxJavaType type, long[] shape) {

    public int rank() {
        return shape.length;
    }

    /** Dimension {@code i}, or -1 when the export left it dynamic. */
    public long dim(int i) {
        return shape[i];
    }

    @Override
    public String toString() {
        return name + ":" + type + Arrays.toString(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec t && name.equals(t.name) && type == t.type && Arrays.equals(shape, t.shape);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }
}
