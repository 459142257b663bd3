package dev.kiln.pipeline.image;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import javax.imageio.ImageIO;

/** Reading pictures people send (PNG, JPEG, ...) for image-to-image. */
public final class ImageFiles {
    private ImageFiles() {
    }

    /**
     * Decodes {@code bytes} and resizes to {@code width}×{@code height} (bicubic).
     *
     * @throws IllegalArgumentException when the bytes are not a picture Java can read
     */
    public static RgbImage read(byte[] bytes, int width, int height) {
        BufferedImage src;
        try {
            src = ImageIO.read(new ByteArrayInputStream(bytes));
        } catch (IOException e) {
            throw new IllegalArgumentException("init image is not a readable picture: " + e.getMessage(), e);
        }
        if (src == null) {
            throw new IllegalArgumentException("init image is not a PNG, JPEG, GIF or BMP picture");
        }
        BufferedImage dst = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = dst.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
            g.drawImage(src, 0, 0, width, height, null);
        } finally {
            g.dispose();
        }
        byte[] rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int p = dst.getRGB(x, y);
                int i = (y * width + x) * 3;
                rgb[i] = (byte) (p >> 16);
                rgb[i + 1] = (byte) (p >> 8);
                rgb[i + 2] = (byte) p;
            }
        }
        return new RgbImage(width, height, rgb);
    }
}
