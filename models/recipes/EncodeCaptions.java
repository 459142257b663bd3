import ai.onnxruntime.platform.Fp16Conversions;
import dev.kiln.pipeline.model.OnnxModel;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.tensor.FloatTensor;
import dev.kiln.pipeline.text.PromptTokenizer;
import dev.kiln.pipeline.text.TextEncoder;
import dev.kiln.pipeline.text.TokenizedPrompt;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Encodes the training captions with Kiln's own text encoder, so the emoji-tiny UNet is trained on
 * exactly the token states it is served with (same tokenizer.json, padding rule and ONNX session).
 *
 * <p>Input: a text file, one caption a line (the emoji recipes write it). Output next to the given
 * prefix: PREFIX-states.npy (float16 [N, max_tokens, 384], last_hidden_state) and PREFIX-mask.npy
 * (int8 [N, max_tokens], the attention mask, for mean pooling into sentence embeddings).
 *
 * <p>A development tool run by models/recipes/emoji_train.py (single-file launch on the pipeline's
 * classpath, see models/recipes/README.md):
 * {@code java -cp CP models/recipes/EncodeCaptions.java models/emoji-tiny captions.txt PREFIX}
 */
public class EncodeCaptions {
    private static final int BATCH = 64;

    public static void main(String[] args) throws IOException {
        if (args.length != 3) {
            System.err.println("usage: EncodeCaptions PACKAGE_DIR CAPTIONS.txt OUT_PREFIX");
            System.exit(2);
        }
        Path pkg = Path.of(args[0]);
        List<String> captions = Files.readAllLines(Path.of(args[1]), StandardCharsets.UTF_8);
        int maxTokens = 32;
        OnnxModel model = OnnxModel.open(pkg.resolve("text_encoder/model.onnx"), "text_encoder/model.onnx",
                OnnxRuntimeOptions.cpu().withThreads(1));
        try (TextEncoder encoder = new TextEncoder(PromptTokenizer.load(pkg.resolve("tokenizer"), maxTokens),
                model, "last_hidden_state");
                OutputStream states = npy(Path.of(args[2] + "-states.npy"), "<f2", captions.size(), maxTokens, 384);
                OutputStream masks = npy(Path.of(args[2] + "-mask.npy"), "|i1", captions.size(), maxTokens)) {
            int truncated = 0;
            long t0 = System.nanoTime();
            for (int start = 0; start < captions.size(); start += BATCH) {
                List<TokenizedPrompt> batch = new ArrayList<>();
                for (String c : captions.subList(start, Math.min(captions.size(), start + BATCH))) {
                    TokenizedPrompt p = encoder.tokenize(c);
                    truncated += p.truncated() ? 1 : 0;
                    batch.add(p);
                }
                FloatTensor h = encoder.encode(batch);
                byte[] half = new byte[h.data().length * 2];
                for (int i = 0; i < h.data().length; i++) {
                    short s = Fp16Conversions.floatToFp16(h.data()[i]);
                    half[2 * i] = (byte) s;
                    half[2 * i + 1] = (byte) (s >> 8);
                }
                states.write(half);
                for (TokenizedPrompt p : batch) {
                    for (long m : p.attentionMask()) {
                        masks.write((int) m);
                    }
                }
            }
            System.out.printf("encoded %d captions (%d truncated to %d tokens) in %.1f s%n", captions.size(), truncated,
                    maxTokens, (System.nanoTime() - t0) / 1e9);
        } finally {
            model.close();
        }
    }

    /** An open .npy stream (format 1.0, little-endian, C order) whose header announces the shape. */
    private static OutputStream npy(Path file, String dtype, long... shape) throws IOException {
        StringBuilder dims = new StringBuilder();
        for (long d : shape) {
            dims.append(d).append(", ");
        }
        String header = "{'descr': '" + dtype + "', 'fortran_order': False, 'shape': ("
                + dims.substring(0, shape.length == 1 ? dims.length() - 1 : dims.length() - 2) + "), }";
        int total = 10 + header.length() + 1;
        header = header + " ".repeat((64 - total % 64) % 64) + "\n";
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 1 << 20));
        out.write(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
        out.write(header.length() & 0xff);
        out.write(header.length() >> 8);
        out.write(header.getBytes(StandardCharsets.US_ASCII));
        return out;
    }
}
