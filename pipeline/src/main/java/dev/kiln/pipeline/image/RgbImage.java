package dev.kiln.pipeline.image;

/**
 * An 8-bit RGB picture, rows top to bottom, pixels interleaved R, G, B.
 */
public record RgbImage(int width, int height, byte[] rgb) {

    public RgbImage {
        if (width <= 0 || height <= 0 || rgb.length != width * height * 3) {
            throw new IllegalArgumentException("an RGB image of " + width + "x" + height + " needs "
                    + (long) width * height * 3 + " bytes, got " + rgb.length);
        }
    }

    /**
     * From a planar [3, H, W] tensor in [-1, 1], the VAE's output range: {@code x/2 + 0.5}, clipped to
     * [0, 1], times 255, rounded — as diffusers post-processes.
     */
    public static RgbImage fromSignedPlanar(float[] chw, int width, int height) {
        if (chw.length != 3 * width * height) {
            throw new IllegalArgumentException("expected 3x" + height + "x" + width + " values, got " + chw.length);
        }
        return fromSignedPlanar(chw, 0, width, height);
    }

    /**
     * Like {@link #fromSignedPlanar(float[], int, int)}, for the picture that starts at {@code offset} in a
     * batch's [B, 3, H, W] values, so a decoder need not copy each picture out first.
     */
    public static RgbImage fromSignedPlanar(float[] bchw, int offset, int width, int height) {
        int plane = width * height;
        if (offset < 0 || offset > bchw.length - 3 * plane) {
            throw new IllegalArgumentException("no 3x" + height + "x" + width + " picture at " + offset + " in "
                    + bchw.length + " values");
        }
        byte[] rgb = new byte[3 * plane];
        // pixel-major so the writes run sequentially through the output
        for (int i = 0, o = 0, r = offset, g = offset + plane, b = offset + 2 * plane; i < plane; i++) {
            rgb[o++] = toByte(bchw[r + i]);
            rgb[o++] = toByte(bchw[g + i]);
            rgb[o++] = toByte(bchw[b + i]);
        }
        return new RgbImage(width, height, rgb);
    }

    /**
     * {@code round(clip(x/2 + 0.5, 0, 1) · 255)} as {@code floor(x·127.5 + 128)} clipped to [0, 255] in integers
     * (truncation is floor once clipped). For a float x the double product and sum are exact or one rounding from
     * exact, so the bytes are those of the clip-then-round form (RgbImageTest), without its branches, which a
     * noisy picture makes unpredictable; NaN gives 0 as before.
     */
    private static byte toByte(float x) {
        int q = (int) (x * 127.5 + 128.0);
        return (byte) Math.min(Math.max(q, 0), 255);
    }

    /** Planar [3, H, W] in [-1, 1], the VAE encoder's input range. */
    public float[] toSignedPlanar() {
        int plane = width * height;
        float[] out = new float[3 * plane];
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) {
                out[c * plane + i] = (rgb[i * 3 + c] & 0xFF) / 255.0f * 2.0f - 1.0f;
            }
        }
        return out;
    }
}
