package dev.kiln.protocol;

import com.google.protobuf.ByteString;
import dev.kiln.protocol.v1.DType;
import dev.kiln.protocol.v1.Tensor;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorCodecTest {

    @Test
    void textEncoderHiddenStatesRoundTripAsFloat32() {
        // cond + uncond for one image of a CLIP ViT-L text encoder: [2, 77, 768]
        float[] hidden = randomFloats(2 * 77 * 768, 1);
        Tensor tensor = TensorCodec.float32(hidden, 2, 77, 768);

        assertEquals(DType.FLOAT32, tensor.getDtype());
        assertArrayEquals(new long[] {2, 77, 768}, TensorCodec.shape(tensor));
        assertEquals(2 * 77 * 768 * 4, tensor.getData().size());
        assertArrayEquals(hidden, TensorCodec.floats(tensor));
        // survives serialisation, which is what actually crosses the wire
        assertArrayEquals(hidden, TensorCodec.floats(reparse(tensor)));
    }

    @Test
    void latentsRoundTripAsFloat32() {
        float[] latents = randomFloats(4 * 64 * 64, 2);
        Tensor tensor = reparse(TensorCodec.float32(latents, 1, 4, 64, 64));

        assertArrayEquals(new long[] {1, 4, 64, 64}, TensorCodec.shape(tensor));
        assertArrayEquals(latents, TensorCodec.floats(tensor));
    }

    @Test
    void bytesAreLittleEndianWhateverTheHost() {
        Tensor tensor = TensorCodec.float32(new float[] {1.0f}, 1);
        // 1.0f = 0x3F800000, least significant byte first
        assertArrayEquals(new byte[] {0, 0, (byte) 0x80, 0x3f}, tensor.getData().toByteArray());

        Tensor ids = TensorCodec.int64(new long[] {49406L}, 1);
        assertEquals(49406L, ByteBuffer.wrap(ids.getData().toByteArray()).order(ByteOrder.LITTLE_ENDIAN).getLong());
    }

    @Test
    void integerTensorsRoundTrip() {
        long[] ids = {49406, 320, 1929, 49407, Long.MAX_VALUE, Long.MIN_VALUE};
        assertArrayEquals(ids, TensorCodec.longs(reparse(TensorCodec.int64(ids, 2, 3))));

        int[] ints = {49406, -1, Integer.MAX_VALUE, Integer.MIN_VALUE};
        Tensor int32 = reparse(TensorCodec.int32(ints, 4));
        assertArrayEquals(ints, TensorCodec.ints(int32));
        // int32 token ids widen to long, since exporters disagree on the input type
        assertArrayEquals(new long[] {49406, -1, Integer.MAX_VALUE, Integer.MIN_VALUE}, TensorCodec.longs(int32));

        byte[] pixels = {0, 127, (byte) 128, (byte) 255};
        Tensor uint8 = reparse(TensorCodec.uint8(pixels, 1, 2, 2));
        assertArrayEquals(pixels, TensorCodec.uint8s(uint8));
        assertArrayEquals(new int[] {0, 127, 128, 255}, TensorCodec.ints(uint8));
    }

    @Test
    void scalarHasOneElement() {
        Tensor scalar = TensorCodec.float32(new float[] {999f});
        assertEquals(0, scalar.getShapeCount());
        assertArrayEquals(new float[] {999f}, TensorCodec.floats(scalar));
    }

    @Test
    void wrongByteLengthIsRejectedWithBothNumbers() {
        Tensor truncated = TensorCodec.float32(new float[4 * 64 * 64], 1, 4, 64, 64).toBuilder()
                .setData(ByteString.copyFrom(new byte[4 * 64 * 64 * 4 - 2]))
                .build();

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorCodec.floats(truncated));
        assertTrue(e.getMessage().contains("FLOAT32[1, 4, 64, 64]"), e.getMessage());
        assertTrue(e.getMessage().contains("needs 65536 bytes"), e.getMessage());
        assertTrue(e.getMessage().contains("carries 65534"), e.getMessage());
    }

    @Test
    void mislabelledDtypeIsRejectedByLength() {
        // fp32 bytes labelled fp16 would otherwise decode as twice as many garbage values
        Tensor mislabelled = TensorCodec.float32(new float[] {1, 2}, 2).toBuilder().setDtype(DType.FLOAT16).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorCodec.floats(mislabelled));
        assertTrue(e.getMessage().contains("needs 4 bytes"), e.getMessage());
    }

    @Test
    void valueCountMustMatchShape() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TensorCodec.float32(new float[10], 2, 77, 768));
        assertTrue(e.getMessage().contains("holds 118272 elements, but 10 values"), e.getMessage());
    }

    @Test
    void badShapesAndTypesAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> TensorCodec.float32(new float[0], 2, -1));
        assertThrows(IllegalArgumentException.class, () -> TensorCodec.elementCount(1L << 20, 1L << 20));
        Tensor ints = TensorCodec.int32(new int[] {1}, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TensorCodec.floats(ints));
        assertTrue(e.getMessage().contains("expected FLOAT32 or FLOAT16"), e.getMessage());
        Tensor unspecified = Tensor.newBuilder().addShape(1).setData(ByteString.copyFrom(new byte[4])).build();
        assertThrows(IllegalArgumentException.class, () -> TensorCodec.floats(unspecified));
    }

    @Test
    void float16RoundTripsWithinHalfPrecision() {
        float[] latents = randomFloats(4 * 64 * 64, 3);
        Tensor tensor = reparse(TensorCodec.float16(latents, 1, 4, 64, 64));

        assertEquals(DType.FLOAT16, tensor.getDtype());
        assertEquals(4 * 64 * 64 * 2, tensor.getData().size());
        float[] back = TensorCodec.floats(tensor);
        for (int i = 0; i < latents.length; i++) {
            // 11 significant bits: relative error at most 2^-11 after rounding to nearest
            assertEquals(latents[i], back[i], Math.abs(latents[i]) * 0x1p-11f + 0x1p-24f);
        }
    }

    @Test
    void everyHalfSurvivesAWayThroughFloat() {
        for (int bits = 0; bits <= 0xffff; bits++) {
            short half = (short) bits;
            float f = TensorCodec.halfToFloat(half);
            if (Float.isNaN(f)) {
                assertTrue(Float.isNaN(TensorCodec.halfToFloat(TensorCodec.floatToHalf(f))), Integer.toHexString(bits));
            } else {
                assertEquals(bits, TensorCodec.floatToHalf(f) & 0xffff, Integer.toHexString(bits));
            }
        }
    }

    @Test
    void float16KnownValuesAndRounding() {
        assertEquals(0x3c00, half(1.0f));
        assertEquals(0xc000, half(-2.0f));
        assertEquals(0x2e66, half(0.1f));
        assertEquals(0x7bff, half(65504f));
        // 65520 is halfway between 65504 and the next step (65536): ties to even, which is infinity
        assertEquals(0x7c00, half(65520f));
        assertEquals(0x7bff, half(65519f));
        assertEquals(0x7c00, half(Float.POSITIVE_INFINITY));
        assertEquals(0xfc00, half(Float.NEGATIVE_INFINITY));
        assertEquals(0x8000, half(-0.0f));
        // smallest subnormal 2^-24, and half of it (a tie) rounds to even zero
        assertEquals(0x0001, half(0x1p-24f));
        assertEquals(0x0000, half(0x1p-25f));
        assertEquals(0x0001, half(0x1.8p-25f));
        // largest subnormal rounds up into the smallest normal
        assertEquals(0x0400, half(0x1.ffcp-15f));
        // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: ties to the even mantissa, 1
        assertEquals(0x3c00, half(1f + 0x1p-11f));
        assertEquals(0x3c02, half(1f + 3 * 0x1p-11f));
        assertTrue(Float.isNaN(TensorCodec.halfToFloat(TensorCodec.floatToHalf(Float.NaN))));
        assertEquals(5.9604645e-8f, TensorCodec.halfToFloat((short) 0x0001));
        assertEquals(6.1035156e-5f, TensorCodec.halfToFloat((short) 0x0400));
    }

    @Test
    void maxMessageSizeFitsABatchOfSixteenAtFullPrecision() {
        long contexts = 2L /* cond, uncond */ * 2 /* k, v */ * 16 * 77 * 768 * 4;
        long latents = 16L * 4 * 64 * 64 * 4;
        assertTrue(contexts + latents < TensorCodec.MAX_MESSAGE_BYTES);
    }

    private static int half(float value) {
        return TensorCodec.floatToHalf(value) & 0xffff;
    }

    private static float[] randomFloats(int n, long seed) {
        Random random = new Random(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) random.nextGaussian() * 3f;
        }
        return out;
    }

    private static Tensor reparse(Tensor tensor) {
        try {
            return Tensor.parseFrom(tensor.toByteArray());
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }
}
