package dev.kiln.pipeline.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ForkJoinPool;
import javax.imageio.ImageIO;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** PNGs read back by an independent decoder (ImageIO), for pictures cut into one piece and into many. */
class PngEncoderTest {

    @ParameterizedTest(name = "{0}x{1}, {2}")
    @CsvSource({"32,32,noise", "64,48,smooth", "512,512,noise", "512,512,smooth", "777,301,noise", "1,1,noise"})
    void decodesToTheSamePixels(int width, int height, String kind) throws IOException {
        RgbImage image = picture(width, height, kind);
        byte[] png = PngEncoder.encode(image, Map.of("parameters", "seed: 1"));
        BufferedImage read = ImageIO.read(new ByteArrayInputStream(png));
        assertEquals(width, read.getWidth());
        assertEquals(height, read.getHeight());
        byte[] rgb = new byte[width * height * 3];
        for (int y = 0, o = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int p = read.getRGB(x, y);
                rgb[o++] = (byte) (p >> 16);
                rgb[o++] = (byte) (p >> 8);
                rgb[o++] = (byte) p;
            }
        }
        assertArrayEquals(image.rgb(), rgb);
    }

    @ParameterizedTest(name = "{0}x{0}")
    @CsvSource({"64", "512"})
    void bytesDoNotDependOnTheThreadsThatCompressed(int size) throws Exception {
        RgbImage image = picture(size, size, "noise");
        byte[] parallel = PngEncoder.encode(image, Map.of());
        ForkJoinPool single = new ForkJoinPool(1);
        try {
            byte[] alone = single.submit(() -> PngEncoder.encode(image, Map.of())).get();
            assertArrayEquals(parallel, alone);
        } finally {
            single.shutdown();
        }
    }

    private static RgbImage picture(int width, int height, String kind) {
        byte[] rgb = new byte[width * height * 3];
        Random random = new Random(width * 31L + height);
        for (int y = 0, o = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                for (int c = 0; c < 3; c++) {
                    rgb[o++] = kind.equals("noise") ? (byte) random.nextInt(256)
                            : (byte) (128 + 100 * Math.sin(x * 0.03 + c) * Math.cos(y * 0.05));
                }
            }
        }
        return new RgbImage(width, height, rgb);
    }
}
