package dev.kiln.protocol;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.kiln.protocol.v1.DType;
import dev.kiln.protocol.v1.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Converts Java arrays plus a shape to and from {@link Tensor} messages.
 *
 * <p>Elements travel row-major and little-endian whatever the host's byte order, so a tensor
 * written on one node reads the same on any other. Every read checks that the byte length is
 * exactly the element count times the element size: a truncated or mislabelled tensor fails
 * here with a message naming both numbers, not later as garbage pixels.
 *
 * <p>FLOAT16 is IEEE 754 binary16. Java 17 has no {@code Float.floatToFloat16} (that arrived in
 * Java 20), so the conversion is done by hand, rounding to nearest even like the JDK and numpy.
 */
public final class TensorCodec {

    /**
     * Largest gRPC message the stages send or accept, in bytes (64 MiB).
     *
     * <p>Sized for Stable Diffusion traffic with room to spare: a batch of 16 prompts carries
     * cond and uncond contexts, each as K and V, of [16, 77, 768] fp32 (4 × 3.8 MB ≈ 15 MB);
     * [16, 4, 64, 64] latents are 1 MB; sixteen 512² PNGs stay under 13 MB even incompressible.
     * gRPC's default of 4 MiB would reject the first of these. Service configuration repeats this
     * number in {@code quarkus.grpc.server.max-inbound-message-size}.
     */
    public static final int MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

    private TensorCodec() {
    }

    /** FLOAT32 tensor of {@code values} in row-major order. */
    public static Tensor float32(float[] values, long... shape) {
        checkCount(values.length, shape);
        ByteBuffer buf = allocate(values.length, DType.FLOAT32);
        buf.asFloatBuffer().put(values);
        return build(DType.FLOAT32, shape, buf);
    }

    /** FLOAT16 tensor of {@code values}, each rounded to the nearest half-precision value. */
    public static Tensor float16(float[] values, long... shape) {
        checkCount(values.length, shape);
        ByteBuffer buf = allocate(values.length, DType.FLOAT16);
        for (float v : values) {
            buf.putShort(floatToHalf(v));
        }
        return build(DType.FLOAT16, shape, buf.flip());
    }

    /** INT32 tensor of {@code values} in row-major order. */
    public static Tensor int32(int[] values, long... shape) {
        checkCount(values.length, shape);
        ByteBuffer buf = allocate(values.length, DType.INT32);
        buf.asIntBuffer().put(values);
        return build(DType.INT32, shape, buf);
    }

    /** INT64 tensor of {@code values} in row-major order. */
    public static Tensor int64(long[] values, long... shape) {
        checkCount(values.length, shape);
        ByteBuffer buf = allocate(values.length, DType.INT64);
        buf.asLongBuffer().put(values);
        return build(DType.INT64, shape, buf);
    }

    /** UINT8 tensor (e.g. preview pixels); the bytes are taken as unsigned. */
    public static Tensor uint8(byte[] values, long... shape) {
        checkCount(values.length, shape);
        return Tensor.newBuilder()
                .setDtype(DType.UINT8)
                .addAllShape(boxed(shape))
                .setData(ByteString.copyFrom(values))
                .build();
    }

    /** The elements of a FLOAT32 or FLOAT16 tensor as floats. */
    public static float[] floats(Tensor tensor) {
        int count = checkedElementCount(tensor);
        ByteBuffer buf = littleEndian(tensor);
        float[] out = new float[count];
        switch (tensor.getDtype()) {
            case FLOAT32 -> buf.asFloatBuffer().get(out);
            case FLOAT16 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = halfToFloat(buf.getShort());
                }
            }
            default -> throw wrongType(tensor, "FLOAT32 or FLOAT16");
        }
        return out;
    }

    /** The elements of an INT32 tensor, or of a UINT8 tensor widened without sign. */
    public static int[] ints(Tensor tensor) {
        int count = checkedElementCount(tensor);
        ByteBuffer buf = littleEndian(tensor);
        int[] out = new int[count];
        switch (tensor.getDtype()) {
            case INT32 -> buf.asIntBuffer().get(out);
            case UINT8 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = Byte.toUnsignedInt(buf.get());
                }
            }
            default -> throw wrongType(tensor, "INT32 or UINT8");
        }
        return out;
    }

    /**
     * The elements of an INT64 tensor, or of an INT32 tensor widened: token ids arrive as either,
     * because exporters disagree on the text encoder's input type.
     */
    public static long[] longs(Tensor tensor) {
        int count = checkedElementCount(tensor);
        ByteBuffer buf = littleEndian(tensor);
        long[] out = new long[count];
        switch (tensor.getDtype()) {
            case INT64 -> buf.asLongBuffer().get(out);
            case INT32 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = buf.getInt();
                }
            }
            default -> throw wrongType(tensor, "INT64 or INT32");
        }
        return out;
    }

    /** The raw bytes of a UINT8 tensor. */
    public static byte[] uint8s(Tensor tensor) {
        checkedElementCount(tensor);
        if (tensor.getDtype() != DType.UINT8) {
            throw wrongType(tensor, "UINT8");
        }
        return tensor.getData().toByteArray();
    }

    /** The tensor's shape as an array. */
    public static long[] shape(Tensor tensor) {
        return tensor.getShapeList().stream().mapToLong(Long::longValue).toArray();
    }

    /**
     * Checks that the tensor has a known dtype, no negative dimensions, and exactly as many bytes
     * as its shape and dtype call for.
     *
     * @return the element count
     * @throws IllegalArgumentException naming what is wrong
     */
    public static int checkedElementCount(Tensor tensor) {
        int size = elementSize(tensor.getDtype());
        long[] shape = shape(tensor);
        long count = elementCount(shape);
        long expected = count * size;
        if (tensor.getData().size() != expected) {
            throw new IllegalArgumentException("tensor " + tensor.getDtype() + Arrays.toString(shape)
                    + " needs " + expected + " bytes (" + count + " elements × " + size
                    + "), but carries " + tensor.getData().size());
        }
        return (int) count;
    }

    /** Bytes per element of {@code dtype}. */
    public static int elementSize(DType dtype) {
        return switch (dtype) {
            case FLOAT32, INT32 -> 4;
            case FLOAT16 -> 2;
            case INT64 -> 8;
            case UINT8 -> 1;
            case DTYPE_UNSPECIFIED, UNRECOGNIZED ->
                    throw new IllegalArgumentException("tensor dtype is " + dtype + "; expected one of "
                            + "FLOAT32, FLOAT16, INT32, INT64, UINT8");
        };
    }

    /**
     * Product of the dimensions, refusing negative ones and counts a Java array cannot hold.
     * An empty shape is a scalar: one element.
     */
    public static long elementCount(long... shape) {
        long count = 1;
        for (long dim : shape) {
            if (dim < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            count = Math.multiplyExact(count, dim);
            if (count > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape)
                        + " has more elements than an array can hold");
            }
        }
        return count;
    }

    /**
     * Rounds a float to the nearest IEEE 754 half, ties to even. Values beyond ±65504 (after
     * rounding) become infinities, values below half the smallest subnormal become signed zero,
     * and NaN stays NaN.
     */
    public static short floatToHalf(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        int exponent = (bits >>> 23) & 0xff;
        int mantissa = bits & 0x7f_ffff;

        if (exponent == 0xff) {
            // Infinity keeps a zero mantissa; NaN keeps its top payload bits and is forced quiet
            // so the payload can never truncate to zero and turn it into infinity.
            return (short) (mantissa == 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13));
        }
        int halfExponent = exponent - 127 + 15;
        if (halfExponent >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (halfExponent <= 0) {
            // Subnormal half: value / 2^-24 with the implicit leading bit made explicit.
            int shift = 14 - halfExponent;
            if (shift > 24) {
                return (short) sign;
            }
            int full = mantissa | 0x80_0000;
            int half = roundShift(full, shift);
            // A carry out of the subnormal range lands exactly on the smallest normal (0x0400).
            return (short) (sign | half);
        }
        // Normal: drop 13 mantissa bits with rounding. A carry propagates into the exponent,
        // which is right, and up to 0x7c00 (infinity) when the value rounds past 65504.
        int half = (halfExponent << 10) | (mantissa >>> 13);
        int rest = mantissa & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (half & 1) != 0)) {
            half++;
        }
        return (short) (sign | half);
    }

    /** The exact float value of an IEEE 754 half. */
    public static float halfToFloat(short half) {
        int bits = half & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exponent = (bits >>> 10) & 0x1f;
        int mantissa = bits & 0x3ff;
        if (exponent == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f80_0000 | (mantissa << 13));
        }
        if (exponent == 0) {
            // Zero or subnormal: mantissa × 2^-24, exact in float.
            float magnitude = mantissa * 0x1p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
    }

    /** {@code value >> shift} rounded to nearest, ties to even. */
    private static int roundShift(int value, int shift) {
        int result = value >>> shift;
        int rest = value & ((1 << shift) - 1);
        int halfway = 1 << (shift - 1);
        if (rest > halfway || (rest == halfway && (result & 1) != 0)) {
            result++;
        }
        return result;
    }

    private static void checkCount(int length, long[] shape) {
        long expected = elementCount(shape);
        if (length != expected) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + expected
                    + " elements, but " + length + " values were given");
        }
    }

    private static ByteBuffer allocate(int count, DType dtype) {
        long bytes = (long) count * elementSize(dtype);
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(count + " " + dtype + " elements do not fit in one message");
        }
        return ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static Tensor build(DType dtype, long[] shape, ByteBuffer filled) {
        // The array is never touched again, so protobuf may wrap it instead of copying it.
        return Tensor.newBuilder()
                .setDtype(dtype)
                .addAllShape(boxed(shape))
                .setData(UnsafeByteOperations.unsafeWrap(filled.array()))
                .build();
    }

    private static ByteBuffer littleEndian(Tensor tensor) {
        return tensor.getData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    private static Iterable<Long> boxed(long[] shape) {
        return Arrays.stream(shape).boxed().toList();
    }

    private static IllegalArgumentException wrongType(Tensor tensor, String expected) {
        return new IllegalArgumentException("tensor dtype is " + tensor.getDtype() + "; expected " + expected);
    }
}
