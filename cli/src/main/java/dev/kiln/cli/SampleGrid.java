package dev.kiln.cli;

import dev.kiln.pipeline.image.RgbImage;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.List;

/**
 * Pictures laid out in a grid of columns with a label above each, scaled up with nearest-neighbour so
 * 32-pixel emoji stay crisp.
 */
final class SampleGrid {
    private static final int LABEL = 18;
    private static final int GAP = 4;

    private SampleGrid() {
    }

    /** {@code columns.get(c).get(r)} goes in column c, row r. */
    static BufferedImage of(List<String> labels, List<List<RgbImage>> columns, int scale) {
        int rows = columns.get(0).size();
        RgbImage first = columns.get(0).get(0);
        int cw = first.width() * scale;
        int ch = first.height() * scale;
        int width = columns.size() * (cw + GAP) + GAP;
        int height = LABEL + rows * (ch + GAP) + GAP;
        BufferedImage grid = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = grid.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_NEAREST_NEIGHBOR);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
            g.setColor(Color.DARK_GRAY);
            for (int c = 0; c < columns.size(); c++) {
                int x = GAP + c * (cw + GAP);
                g.drawString(labels.get(c), x, LABEL - 5);
                for (int r = 0; r < rows; r++) {
                    g.drawImage(toBuffered(columns.get(c).get(r)), x, LABEL + r * (ch + GAP), cw, ch, null);
                }
            }
        } finally {
            g.dispose();
        }
        return grid;
    }

    static BufferedImage toBuffered(RgbImage img) {
        BufferedImage b = new BufferedImage(img.width(), img.height(), BufferedImage.TYPE_INT_RGB);
        byte[] p = img.rgb();
        for (int y = 0; y < img.height(); y++) {
            for (int x = 0; x < img.width(); x++) {
                int i = (y * img.width() + x) * 3;
                b.setRGB(x, y, (p[i] & 0xFF) << 16 | (p[i + 1] & 0xFF) << 8 | (p[i + 2] & 0xFF));
            }
        }
        return b;
    }
}
