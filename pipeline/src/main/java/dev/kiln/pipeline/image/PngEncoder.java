package dev.kiln.pipeline.image;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;

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

    private static byte[] compress(RgbImage image) throws IOException {
        int stride = image.width() * 3;
        ByteArrayOutputStream raw = new ByteArrayOutputStream(image.rgb().length / 2);
        // fastest level: a server answers many pictures, and level 6 costs several times the time for files
        // only slightly smaller; a large buffer keeps the number of native deflate calls down
        Deflater deflater = new Deflater(Deflater.BEST_SPEED);
        try (DeflaterOutputStream z = new DeflaterOutputStream(raw, deflater, 1 << 16)) {
            byte[] row = new byte[stride + 1];
            byte[] prev = new byte[stride];
            byte[] cur = new byte[stride];
            for (int y = 0; y < image.height(); y++) {
                System.arraycopy(image.rgb(), y * stride, cur, 0, stride);
                // the "up" filter: cheap and deterministic, and it compresses smooth pictures well
                row[0] = 2;
                for (int i = 0; i < stride; i++) {
                    row[i + 1] = (byte) (cur[i] - prev[i]);
                }
                z.write(row);
                byte[] t = prev;
                prev = cur;
                cur = t;
            }
        } finally {
            deflater.end();
        }
        return raw.toByteArray();
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
