package dev.kiln.pipeline.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.math.BigDecimal;
import java.math.RoundingMode;
import org.junit.jupiter.api.Test;

class RgbImageTest {
    /**
     * The clip-then-round form, round(clip(x/2 + 0.5, 0, 1) · 255) with halves up, in double arithmetic (a value
     * as small as 1e-45 is lost in the 0.5 there, as it is in float32 post-processing).
     */
    private static int reference(float x) {
        if (Float.isNaN(x)) {
            return 0;
        }
        double v = Math.min(1.0, Math.max(0.0, x / 2.0 + 0.5));
        return (int) Math.floor(v * 255.0 + 0.5);
    }

    /** The same in exact decimal arithmetic, for values where no double rounding can reach the next byte. */
    private static int exact(float x) {
        BigDecimal v = new BigDecimal(x).divide(BigDecimal.valueOf(2)).add(new BigDecimal("0.5"));
        v = v.max(BigDecimal.ZERO).min(BigDecimal.ONE);
        return v.multiply(BigDecimal.valueOf(255)).setScale(0, RoundingMode.HALF_UP).intValueExact();
    }

    private static int converted(float x) {
        RgbImage image = RgbImage.fromSignedPlanar(new float[] {x, x, x}, 1, 1);
        return image.rgb()[0] & 0xFF;
    }

    @Test
    void everyFloatNearARoundingBoundaryGetsTheExactlyRoundedByte() {
        for (int n = 0; n <= 256; n++) {
            // x where x/2 + 0.5 = (n - 0.5) / 255: the byte changes from n - 1 to n there
            float boundary = (float) ((2.0 * n - 1.0) / 255.0 - 1.0);
            for (int d = -300; d <= 300; d++) {
                float x = Float.intBitsToFloat(Float.floatToIntBits(boundary) + d);
                if (Float.isNaN(x)) {
                    continue; // below the bit pattern of 0.0 lie NaNs, not negative numbers
                }
                assertEquals(exact(x), converted(x), () -> "x = " + x);
                assertEquals(reference(x), converted(x), () -> "x = " + x);
            }
        }
    }

    @Test
    void outOfRangeAndSpecialValuesClip() {
        float[] xs = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MAX_VALUE, -Float.MAX_VALUE,
            0f, -0f, 1f, -1f, 1.0000001f, -1.0000001f, Float.MIN_VALUE, -Float.MIN_VALUE, 3e9f, -3e9f};
        for (float x : xs) {
            assertEquals(reference(x), converted(x), () -> "x = " + x);
        }
    }

    @Test
    void planesAreInterleavedPixelByPixel() {
        // 2x1 picture: R plane (-1, 1), G plane (0, 0), B plane (1, -1)
        RgbImage image = RgbImage.fromSignedPlanar(new float[] {-1f, 1f, 0f, 0f, 1f, -1f}, 2, 1);
        byte[] expected = {0, (byte) 128, (byte) 255, (byte) 255, (byte) 128, 0};
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i] & 0xFF, image.rgb()[i] & 0xFF, "byte " + i);
        }
    }

    @Test
    void aPictureIsReadFromItsPlaceInABatch() {
        // batch of two 2x1 pictures: the second is the one above
        float[] batch = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, -1f, 1f, 0f, 0f, 1f, -1f};
        RgbImage second = RgbImage.fromSignedPlanar(batch, 6, 2, 1);
        byte[] expected = {0, (byte) 128, (byte) 255, (byte) 255, (byte) 128, 0};
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i] & 0xFF, second.rgb()[i] & 0xFF, "byte " + i);
        }
        assertThrows(IllegalArgumentException.class,
                () -> RgbImage.fromSignedPlanar(batch, 7, 2, 1), "a picture running past the batch");
    }
}
