package dev.kiln.pipeline.image;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.zip.Adler32;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * Writes PNG files byte for byte the same for the same pixels and text, with text chunks such as
 * AUTOMATIC1111's {@code parameters}. Latin-1 text goes in {@code tEXt}; anything else in
 * {@code iTXt} (UTF-8), which is where PIL puts it too.
 */
public final class PngEncoder {
    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

    private PngEncoder() {
    }

    public static byte[] encode(RgbImage image, Map<String, String> text) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.write(SIGNATURE);
            ByteArrayOutputStream ihdr = new ByteArrayOutputStream();
            DataOutputStream d = new DataOutputStream(ihdr);
            d.writeInt(image.width());
            d.writeInt(image.height());
            d.writeByte(8);  // bit depth
            d.writeByte(2);  // colour type: truecolour
            d.writeByte(0);  // compression
            d.writeByte(0);  // filter method
            d.writeByte(0);  // no interlace
            chunk(out, "IHDR", ihdr.toByteArray());
            for (Map.Entry<String, String> e : text.entrySet()) {
                textChunk(out, e.getKey(), e.getValue());
            }
            chunk(out, "IDAT", compress(image));
            chunk(out, "IEND", new byte[0]);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void textChunk(ByteArrayOutputStream out, String key, String value) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(key.getBytes(StandardCharsets.ISO_8859_1));
        body.write(0);
        if (StandardCharsets.ISO_8859_1.newEncoder().canEncode(value)) {
            body.write(value.getBytes(StandardCharsets.ISO_8859_1));
            chunk(out, "tEXt", body.toByteArray());
        } else {
            body.write(new byte[] {0, 0, 0, 0}); // not compressed, no language tag, no translated key
            body.write(value.getBytes(StandardCharsets.UTF_8));
            chunk(out, "iTXt", body.toByteArray());
        }
    }

    /** Filtered bytes per independently compressed piece: small pictures stay one piece. */
    private static final int PIECE_BYTES = 1 << 17;

    /**
     * The zlib stream of the filtered scanlines. Large pictures are cut into pieces of whole rows that are
     * deflated in parallel, as pigz does: every piece but the last ends with a sync flush (a byte boundary),
     * the pieces are concatenated behind one zlib header and the Adler-32 of all the data closes the stream.
     * Piece boundaries depend only on the picture's size, so the bytes do not depend on the thread count.
     */
    private static byte[] compress(RgbImage image) {
        int stride = image.width() * 3;
        int rowsPerPiece = Math.max(1, PIECE_BYTES / (stride + 1));
        int pieces = (image.height() + rowsPerPiece - 1) / rowsPerPiece;
        byte[][] filtered = new byte[pieces][];
        byte[][] deflated = new byte[pieces][];
        IntStream range = IntStream.range(0, pieces);
        (pieces > 1 ? range.parallel() : range).forEach(p -> {
            int from = p * rowsPerPiece;
            int to = Math.min(image.height(), from + rowsPerPiece);
            filtered[p] = filterRows(image.rgb(), stride, from, to);
            deflated[p] = deflate(filtered[p], p == pieces - 1);
        });
        Adler32 adler = new Adler32();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x78); // zlib header: deflate, 32K window
        out.write(0x01); // ... fastest level, no dictionary; (0x78 << 8 | 0x01) % 31 == 0
        for (int p = 0; p < pieces; p++) {
            adler.update(filtered[p]);
            out.writeBytes(deflated[p]);
        }
        long a = adler.getValue();
        out.write((int) (a >>> 24));
        out.write((int) (a >>> 16));
        out.write((int) (a >>> 8));
        out.write((int) a);
        return out.toByteArray();
    }

    /** Rows [from, to) with PNG's "up" filter: cheap, deterministic, and it compresses smooth pictures well. */
    private static byte[] filterRows(byte[] rgb, int stride, int from, int to) {
        byte[] out = new byte[(to - from) * (stride + 1)];
        int o = 0;
        for (int y = from; y < to; y++) {
            out[o++] = 2;
            int row = y * stride;
            if (y == 0) {
                System.arraycopy(rgb, row, out, o, stride);
            } else {
                for (int i = 0; i < stride; i++) {
                    out[o + i] = (byte) (rgb[row + i] - rgb[row - stride + i]);
                }
            }
            o += stride;
        }
        return out;
    }

    /**
     * Each thread's raw deflaters, reset between pieces: setting one up allocates and clears several hundred
     * kilobytes of native state, which costs more than deflating a small picture.
     */
    private static final ThreadLocal<Deflater> DEFLATERS = ThreadLocal.withInitial(() -> new Deflater(Deflater.BEST_SPEED, true));
    private static final ThreadLocal<Deflater> STORERS = ThreadLocal.withInitial(() -> new Deflater(Deflater.NO_COMPRESSION, true));

    /**
     * Above this order-0 entropy (bits per filtered byte) string matching finds little, so the bytes are only
     * Huffman coded ({@link HuffmanOnlyDeflater}): on a noisy 512 px picture (7.6 bits) zlib's Huffman-only
     * mode is smaller than its level 1 (754 241 vs 757 259 bytes) and 1.7 times as fast, and Kiln's own
     * coder is faster again. Smooth pictures (the emoji sample grid: 1.8 bits) keep level 1, which makes them
     * four times smaller than Huffman coding alone would.
     */
    static final double HUFFMAN_ONLY_BITS_PER_BYTE = 6.0;
    /** Above this, coding can save at most 1.25%: stored blocks, at the speed of a copy. */
    static final double STORED_BITS_PER_BYTE = 7.9;

    /**
     * Raw deflate at the fastest level (a server answers many pictures, and level 6 costs several times the
     * time for files only slightly smaller), Huffman coding alone or stored blocks, by the bytes' entropy.
     */
    private static byte[] deflate(byte[] data, boolean last) {
        int[] counts = histogram(data);
        double entropy = entropyBitsPerByte(counts);
        if (entropy > HUFFMAN_ONLY_BITS_PER_BYTE && entropy <= STORED_BITS_PER_BYTE) {
            return HuffmanOnlyDeflater.deflate(data, counts, last);
        }
        Deflater deflater = (entropy > STORED_BITS_PER_BYTE ? STORERS : DEFLATERS).get();
        deflater.reset();
        try {
            deflater.setInput(data);
            if (last) {
                deflater.finish();
            }
            // room for incompressible data (stored blocks cost 5 bytes per 16 KiB) and the flush marker, so one
            // call normally does it all
            byte[] out = new byte[data.length + data.length / 1024 + 64];
            int n = 0;
            while (true) {
                n += last ? deflater.deflate(out, n, out.length - n)
                        : deflater.deflate(out, n, out.length - n, Deflater.SYNC_FLUSH);
                // done is all input taken and the flush written with room to spare: a call that filled the
                // buffer may have more to give
                if (last ? deflater.finished() : deflater.needsInput() && n < out.length) {
                    return java.util.Arrays.copyOf(out, n);
                }
                if (n == out.length) {
                    out = java.util.Arrays.copyOf(out, out.length * 2);
                }
            }
        } finally {
            deflater.setInput(new byte[0]);
        }
    }

    static int[] histogram(byte[] data) {
        int[] counts = new int[256];
        for (byte b : data) {
            counts[b & 0xFF]++;
        }
        return counts;
    }

    /** Shannon entropy of a byte histogram; {@link StrictMath} so the choice, and the bytes, are the same on every JVM. */
    static double entropyBitsPerByte(int[] counts) {
        long n = 0;
        for (int c : counts) {
            n += c;
        }
        double bits = 0;
        for (int c : counts) {
            if (c > 0) {
                bits += c * StrictMath.log((double) n / c);
            }
        }
        return n == 0 ? 0 : bits / StrictMath.log(2) / n;
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) throws IOException {
        DataOutputStream d = new DataOutputStream(out);
        d.writeInt(data.length);
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        d.write(t);
        d.write(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        d.writeInt((int) crc.getValue());
    }
}
