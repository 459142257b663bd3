package dev.kiln.pipeline.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.util.Random;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Streams read back by the JDK's inflater (zlib), for histograms from flat to ones that need the length limit. */
class HuffmanOnlyDeflaterTest {

    @ParameterizedTest(name = "{0}, {1} bytes")
    @CsvSource({"uniform,131072", "uniform,1", "gaussian,12291", "gaussian,131072", "one-value,5000", "two-values,7",
        "geometric,131072", "fibonacci,200000", "rare-tail,65536"})
    void inflatesToTheSameBytes(String kind, int size) throws DataFormatException {
        byte[] data = bytes(kind, size);
        assertArrayEquals(data, inflate(HuffmanOnlyDeflater.deflate(data, PngEncoder.histogram(data), true)));
    }

    /** Non-final pieces end on a byte boundary and concatenate into one stream, as the PNG encoder joins them. */
    @Test
    void flushedPiecesConcatenate() throws DataFormatException {
        byte[] a = bytes("gaussian", 40000);
        byte[] b = bytes("fibonacci", 30000);
        byte[] c = bytes("uniform", 100);
        ByteArrayOutputStream stream = new ByteArrayOutputStream();
        stream.writeBytes(HuffmanOnlyDeflater.deflate(a, PngEncoder.histogram(a), false));
        stream.writeBytes(HuffmanOnlyDeflater.deflate(b, PngEncoder.histogram(b), false));
        stream.writeBytes(HuffmanOnlyDeflater.deflate(c, PngEncoder.histogram(c), true));
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        all.writeBytes(a);
        all.writeBytes(b);
        all.writeBytes(c);
        assertArrayEquals(all.toByteArray(), inflate(stream.toByteArray()));
    }

    /** A Huffman code is within one bit per symbol of the entropy; the header adds at most a few hundred bytes. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"uniform", "gaussian", "geometric"})
    void sizeIsWithinTheHuffmanBound(String kind) {
        byte[] data = bytes(kind, 131072);
        int[] counts = PngEncoder.histogram(data);
        double entropyBytes = PngEncoder.entropyBitsPerByte(counts) * data.length / 8;
        int size = HuffmanOnlyDeflater.deflate(data, counts, true).length;
        assertTrue(size >= entropyBytes, kind + ": " + size + " below the entropy " + entropyBytes);
        assertTrue(size <= entropyBytes + data.length / 8.0 + 300, kind + ": " + size + ", entropy " + entropyBytes);
    }

    @Test
    void lengthsAreLimitedAndComplete() {
        // Fibonacci counts make the plain Huffman tree as deep as it can be: 24 levels for 25 symbols
        int[] counts = new int[257];
        int a = 1;
        int b = 1;
        for (int s = 0; s < 25; s++) {
            counts[s] = a;
            int t = a + b;
            a = b;
            b = t;
        }
        int[] lengths = HuffmanOnlyDeflater.codeLengths(counts, 15);
        double kraft = 0;
        for (int s = 0; s < counts.length; s++) {
            assertTrue(lengths[s] <= 15, "symbol " + s + " got " + lengths[s] + " bits");
            assertEquals(counts[s] > 0, lengths[s] > 0, "symbol " + s);
            kraft += lengths[s] > 0 ? Math.pow(2, -lengths[s]) : 0;
        }
        assertEquals(1.0, kraft, 1e-12, "a complete code");
        // the most frequent symbol never gets a longer code than a rarer one
        for (int s = 1; s < 25; s++) {
            assertTrue(lengths[s] <= lengths[s - 1], "symbol " + s);
        }
    }

    /** RFC 1951's own example: lengths (3, 3, 3, 3, 3, 2, 4, 4) give codes 010, 011, 100, 101, 110, 00, 1110, 1111. */
    @Test
    void canonicalCodesFollowTheRfcExample() {
        int[] codes = HuffmanOnlyDeflater.canonicalCodes(new int[] {3, 3, 3, 3, 3, 2, 4, 4});
        int[] msbFirst = {0b010, 0b011, 0b100, 0b101, 0b110, 0b00, 0b1110, 0b1111};
        int[] lengths = {3, 3, 3, 3, 3, 2, 4, 4};
        for (int s = 0; s < codes.length; s++) {
            assertEquals(Integer.reverse(msbFirst[s]) >>> (32 - lengths[s]), codes[s], "symbol " + s);
        }
    }

    private static byte[] inflate(byte[] raw) throws DataFormatException {
        Inflater inflater = new Inflater(true);
        inflater.setInput(raw);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[65536];
        while (!inflater.finished()) {
            int n = inflater.inflate(buffer);
            if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                throw new AssertionError("stream ended before its final block");
            }
            out.write(buffer, 0, n);
        }
        assertEquals(0, inflater.getRemaining(), "nothing after the final block");
        inflater.end();
        return out.toByteArray();
    }

    /** Deterministic data of a few shapes of histogram. */
    private static byte[] bytes(String kind, int size) {
        Random random = new Random(kind.hashCode() * 31L + size);
        byte[] data = new byte[size];
        int fibonacciTotal = 0;
        int[] fibonacci = new int[25];
        for (int s = 0, a = 1, b = 1; s < 25; s++) {
            fibonacci[s] = a;
            fibonacciTotal += a;
            int t = a + b;
            a = b;
            b = t;
        }
        for (int i = 0; i < size; i++) {
            data[i] = switch (kind) {
                case "uniform" -> (byte) random.nextInt(256);
                case "gaussian" -> (byte) Math.round(random.nextGaussian() * 20);
                case "one-value" -> (byte) 7;
                case "two-values" -> (byte) (random.nextBoolean() ? 3 : 250);
                case "geometric" -> (byte) Math.min(255, (int) (-Math.log(1 - random.nextDouble()) / 0.7));
                case "rare-tail" -> (byte) (i % 4096 == 0 ? 1 + random.nextInt(255) : 0);
                case "fibonacci" -> {
                    // symbol s with probability proportional to the s-th Fibonacci number
                    int r = random.nextInt(fibonacciTotal);
                    int s = 0;
                    while (r >= fibonacci[s]) {
                        r -= fibonacci[s++];
                    }
                    yield (byte) s;
                }
                default -> throw new IllegalArgumentException(kind);
            };
        }
        return data;
    }
}
