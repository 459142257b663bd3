package dev.kiln.pipeline.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.kiln.pipeline.image.RgbImage;
import java.util.List;
import org.junit.jupiter.api.Test;

class ImageMetricsTest {
    @Test
    void retrievalCountsOwnCaptionFirstWithinEachGroup() {
        // groups {0, 1} and {2}: image 0 matches caption 0, image 1 matches caption 0 better than its own,
        // image 2 is alone in its group and so matches
        float[][] captions = {{1, 0}, {0, 1}, {1, 1}};
        float[][] images = {{1, 0.1f}, {1, 0.2f}, {-1, -1}};
        assertEquals(2.0 / 3, ImageMetrics.retrievalTop1(images, captions, 2), 1e-12);
        // one group of 3: image 2 ({-1,-1}) has cosines -0.71, -0.71, -1 with the captions and loses
        assertEquals(1.0 / 3, ImageMetrics.retrievalTop1(images, captions, 3), 1e-12);
        assertEquals(0.0, ImageMetrics.retrievalTop1(new float[][] {{0, 1}, {1, 0}}, new float[][] {{1, 0}, {0, 1}}, 100));
        // top-2 in the group of 3: image 0 ranks its caption 1st; image 1 3rd (after captions 0 and 2: cosines
        // 0.981, 0.832 against its own 0.196); image 2 3rd
        assertEquals(1.0 / 3, ImageMetrics.retrievalTopK(images, captions, 3, 2), 1e-12);
        assertEquals(1.0, ImageMetrics.retrievalTopK(images, captions, 3, 3), 1e-12);
    }

    @Test
    void accuracyOfTheLargestLogit() {
        float[][] logits = {{3, 1, 0}, {0, 2, 1}, {0, 0, 5}, {1, 0, 0}};
        assertEquals(0.75, ImageMetrics.accuracy(logits, new int[] {0, 1, 2, 2}), 1e-12);
    }

    @Test
    void psnrByHand() {
        byte[] a = new byte[2 * 1 * 3];
        byte[] b = a.clone();
        b[0] = 10; // one channel of six off by 10: MSE = 100/6
        assertEquals(10 * Math.log10(255.0 * 255 * 6 / 100), ImageMetrics.psnr(new RgbImage(2, 1, a), new RgbImage(2, 1, b)), 1e-12);
        assertEquals(Double.POSITIVE_INFINITY, ImageMetrics.psnr(new RgbImage(2, 1, a), new RgbImage(2, 1, a)));
        RgbImage x = new RgbImage(1, 1, new byte[] {0, 0, 0});
        RgbImage y = new RgbImage(1, 1, new byte[] {(byte) 255, (byte) 255, (byte) 255});
        assertEquals(0, ImageMetrics.meanPsnr(List.of(x), List.of(y)), 1e-12);
    }

    @Test
    void meanPoolingOverRealTokensThenUnitLength() {
        // three tokens of width 2, the last one padding: mean of (1,2) and (3,2) is (2,2), unit length (1,1)/√2
        float[] states = {1, 2, 3, 2, 100, -100};
        float[] e = CaptionEmbedder.meanPool(states, new long[] {1, 1, 0}, 2);
        assertArrayEquals(new float[] {(float) (1 / Math.sqrt(2)), (float) (1 / Math.sqrt(2))}, e, 1e-7f);
    }
}
