package dev.kiln.pipeline.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ForkJoinPool;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** PNGs read back by an independent decoder (ImageIO), for pictures cut into one piece and into many. */
class PngEncoderTest {

    @ParameterizedTest(name = "{0}x{1}, {2}")
    @CsvSource({"32,32,noise", "64,48,smooth", "512,512,noise", "512,512,smooth", "512,512,grain", "777,301,noise",
        "1,1,noise"})
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

    @Test
    void entropyIsTheHistogramsShannonEntropy() {
        byte[] uniform = new byte[256 * 4];
        for (int i = 0; i < uniform.length; i++) {
            uniform[i] = (byte) i;
        }
        assertEquals(8.0, PngEncoder.entropyBitsPerByte(PngEncoder.histogram(uniform)), 1e-12);
        assertEquals(1.0, PngEncoder.entropyBitsPerByte(PngEncoder.histogram(new byte[] {3, 7, 7, 3})), 1e-12);
        assertEquals(0.0, PngEncoder.entropyBitsPerByte(PngEncoder.histogram(new byte[100])), 1e-12);
        // p = 1/4, 3/4: -(1/4 log2 1/4 + 3/4 log2 3/4)
        assertEquals(0.8112781244591328, PngEncoder.entropyBitsPerByte(PngEncoder.histogram(new byte[] {1, 0, 0, 0})), 1e-12);
    }

    /**
     * Each coding is taken where it pays, against the order-0 entropy bound of the filtered bytes (what
     * Huffman coding alone can reach): noise is stored, not grown beyond its block headers; grain (smooth plus
     * noise, the fixture models' kind of picture) is Huffman coded close to the bound; smooth pictures still
     * get string matching, which goes well below it.
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"noise", "grain", "smooth"})
    void sizeFollowsWhatTheBytesAllow(String kind) {
        RgbImage image = picture(512, 512, kind);
        byte[] filtered = new byte[512 * (512 * 3 + 1)];
        for (int y = 0, o = 0; y < 512; y++) {
            filtered[o++] = 2; // "up", as the encoder filters
            for (int i = 0; i < 512 * 3; i++) {
                int at = y * 512 * 3 + i;
                filtered[o++] = (byte) (image.rgb()[at] - (y == 0 ? 0 : image.rgb()[at - 512 * 3]));
            }
        }
        double bound = PngEncoder.entropyBitsPerByte(PngEncoder.histogram(filtered)) * filtered.length / 8;
        int size = PngEncoder.encode(image, Map.of()).length;
        switch (kind) {
            case "noise" -> assertTrue(size < filtered.length * 1.001 + 100, "noise: " + size + " of " + filtered.length);
            case "grain" -> assertTrue(size < bound * 1.02 && size < filtered.length * 0.95, "grain: " + size + ", bound " + bound);
            default -> assertTrue(size < bound * 0.8, "smooth: " + size + ", bound " + bound);
        }
    }

    private static RgbImage picture(int width, int height, String kind) {
        byte[] rgb = new byte[width * height * 3];
        Random random = new Random(width * 31L + height);
        for (int y = 0, o = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                for (int c = 0; c < 3; c++) {
                    double smooth = 128 + 100 * Math.sin(x * 0.03 + c) * Math.cos(y * 0.05);
                    rgb[o++] = switch (kind) {
                        case "noise" -> (byte) random.nextInt(256);
                        case "grain" -> (byte) Math.max(0, Math.min(255, Math.round(smooth + 20 * random.nextGaussian())));
                        default -> (byte) smooth;
                    };
                }
            }
        }
        return new RgbImage(width, height, rgb);
    }
}
