package dev.kiln.pipeline.eval;

import dev.kiln.pipeline.image.RgbImage;
import java.util.List;

/** The per-image quality measures of {@code kiln eval}, on embeddings and pictures already computed. */
public final class ImageMetrics {
    private ImageMetrics() {
    }

    /**
     * Top-1 prompt retrieval: the share of images whose own caption is the most similar (by cosine) among
     * the captions of its group. Image i belongs with caption i; groups are consecutive blocks of
     * {@code groupSize} (the last may be smaller), so chance level is 1/groupSize.
     */
    public static double retrievalTop1(float[][] images, float[][] captions, int groupSize) {
        return retrievalTopK(images, captions, groupSize, 1);
    }

    /**
     * Top-k prompt retrieval: the share of images whose own caption is among the k most similar captions of
     * its group (ties counted against the image). Chance level is k/groupSize.
     */
    public static double retrievalTopK(float[][] images, float[][] captions, int groupSize, int k) {
        if (images.length != captions.length) {
            throw new IllegalArgumentException(images.length + " images for " + captions.length + " captions");
        }
        if (images.length == 0) {
            throw new IllegalArgumentException("no images to score");
        }
        int hits = 0;
        for (int start = 0; start < images.length; start += groupSize) {
            int end = Math.min(images.length, start + groupSize);
            for (int i = start; i < end; i++) {
                double own = cosine(images[i], captions[i]);
                int better = 0;
                for (int j = start; j < end; j++) {
                    // an earlier caption as similar as the own one ranks before it, as argmax would pick it
                    double s = cosine(images[i], captions[j]);
                    if (j != i && (s > own || (s == own && j < i))) {
                        better++;
                    }
                }
                if (better < k) {
                    hits++;
                }
            }
        }
        return (double) hits / images.length;
    }

    static double cosine(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("embeddings of different widths: " + a.length + " and " + b.length);
        }
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int k = 0; k < a.length; k++) {
            dot += (double) a[k] * b[k];
            na += (double) a[k] * a[k];
            nb += (double) b[k] * b[k];
        }
        return dot / Math.sqrt(Math.max(na * nb, 1e-30));
    }

    /** The share of rows whose largest logit is at the expected class index. */
    public static double accuracy(float[][] logits, int[] expected) {
        if (logits.length != expected.length || logits.length == 0) {
            throw new IllegalArgumentException(logits.length + " predictions for " + expected.length + " labels");
        }
        int hits = 0;
        for (int i = 0; i < logits.length; i++) {
            int arg = 0;
            for (int k = 1; k < logits[i].length; k++) {
                if (logits[i][k] > logits[i][arg]) {
                    arg = k;
                }
            }
            if (arg == expected[i]) {
                hits++;
            }
        }
        return (double) hits / logits.length;
    }

    /**
     * Peak signal-to-noise ratio in dB between two 8-bit pictures of the same size, with 255 as the peak:
     * {@code 10·log10(255² / MSE)}; infinite for identical pictures.
     */
    public static double psnr(RgbImage a, RgbImage b) {
        if (a.width() != b.width() || a.height() != b.height()) {
            throw new IllegalArgumentException("pictures differ in size: " + a.width() + "x" + a.height() + " and "
                    + b.width() + "x" + b.height());
        }
        byte[] x = a.rgb();
        byte[] y = b.rgb();
        double se = 0;
        for (int i = 0; i < x.length; i++) {
            double d = (x[i] & 0xFF) - (y[i] & 0xFF);
            se += d * d;
        }
        double mse = se / x.length;
        return 10 * Math.log10(255.0 * 255.0 / mse);
    }

    /** Mean PSNR over pairs (a.get(i), b.get(i)). */
    public static double meanPsnr(List<RgbImage> a, List<RgbImage> b) {
        if (a.size() != b.size() || a.isEmpty()) {
            throw new IllegalArgumentException(a.size() + " pictures against " + b.size());
        }
        double sum = 0;
        for (int i = 0; i < a.size(); i++) {
            sum += psnr(a.get(i), b.get(i));
        }
        return sum / a.size();
    }
}
