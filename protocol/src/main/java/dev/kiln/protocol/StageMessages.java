package dev.kiln.protocol;

import com.google.protobuf.UnsafeByteOperations;
import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.model.UNetRole;
import dev.kiln.pipeline.stage.Conditioning;
import dev.kiln.pipeline.stage.DecodeSpec;
import dev.kiln.pipeline.stage.DenoiseSpec;
import dev.kiln.pipeline.stage.EncodeSpec;
import dev.kiln.protocol.v1.DecodeRequest;
import dev.kiln.protocol.v1.DecodeResponse;
import dev.kiln.protocol.v1.DenoiseEvent;
import dev.kiln.protocol.v1.DenoiseProgress;
import dev.kiln.protocol.v1.DenoiseRequest;
import dev.kiln.protocol.v1.DenoiseResult;
import dev.kiln.protocol.v1.EncodeImageRequest;
import dev.kiln.protocol.v1.EncodeRequest;
import dev.kiln.protocol.v1.EncodeResponse;
import dev.kiln.protocol.v1.EncodedImage;
import dev.kiln.protocol.v1.ImageFormat;
import dev.kiln.protocol.v1.PngText;
import dev.kiln.protocol.v1.Tensor;
import dev.kiln.protocol.v1.TextChunk;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The stage specs of {@code pipeline} ({@link EncodeSpec}, {@link DenoiseSpec}, {@link DecodeSpec}, ...)
 * as {@code kiln.v1} messages and back. Clients write requests and read responses with it, servers the
 * other way round, so a spec that crosses the wire arrives as the same values (floats bit for bit): the
 * gRPC wiring gives the same images as the in-process one.
 *
 * <p>Reading a request checks what the wire can get wrong (missing tensors, wrong shapes, counts that do
 * not match) and throws {@link InvalidRequestException} naming the field; what the model decides
 * (schedulers, sizes, steps) is checked by the stage itself, the same way in both wirings.
 */
public final class StageMessages {
    private StageMessages() {
    }

    // ---- encoder

    public static EncodeRequest encodeRequest(EncodeSpec spec) {
        return encodeRequest(spec, "");
    }

    /** @param heldUncondRef the ref the caller holds the negative prompt's states under ("" for none) */
    public static EncodeRequest encodeRequest(EncodeSpec spec, String heldUncondRef) {
        return EncodeRequest.newBuilder().setModelId(nullToEmpty(spec.model())).setPrompt(nullToEmpty(spec.prompt()))
                .setNegativePrompt(nullToEmpty(spec.negativePrompt())).setGuided(spec.guided())
                .setHeldUncondRef(nullToEmpty(heldUncondRef)).build();
    }

    public static EncodeSpec encodeSpec(EncodeRequest request) {
        adaptersNotServed(request.getHypernetworksCount() + request.getEmbeddingsCount());
        return new EncodeSpec(emptyToNull(request.getModelId()), request.getPrompt(), request.getNegativePrompt(),
                request.getGuided());
    }

    public static EncodeResponse encodeResponse(Conditioning c) {
        return encodeResponse(c, "", false);
    }

    /**
     * @param uncondRef  the ref of the negative prompt's states ("" for none)
     * @param omitUncond whether the ref stands for them alone, the caller holding them
     */
    public static EncodeResponse encodeResponse(Conditioning c, String uncondRef, boolean omitUncond) {
        EncodeResponse.Builder b = EncodeResponse.newBuilder()
                .setCond(side(c.cond(), c.condV(), c.contextShape(), "", false))
                .setPromptDropped(c.promptDropped()).setNegativeDropped(c.negativeDropped());
        if (c.guided()) {
            b.setUncond(side(c.uncond(), c.uncondV(), c.contextShape(), uncondRef, omitUncond));
        }
        return b.build();
    }

    public static Conditioning conditioning(EncodeResponse response) {
        return conditioning(response, null);
    }

    /**
     * The conditioning of an answer, its referenced states kept in (or, without tensors, taken from) {@code memory}.
     *
     * @throws UnknownConditioningRefException when a ref stands alone that {@code memory} does not hold
     */
    public static Conditioning conditioning(EncodeResponse response, ConditioningMemory memory) {
        return conditioning(response.hasCond(), response.getCond(), response.hasUncond(), response.getUncond(),
                response.getPromptDropped(), response.getNegativeDropped(), memory);
    }

    private static dev.kiln.protocol.v1.Conditioning side(float[] k, float[] v, long[] shape, String ref, boolean omit) {
        dev.kiln.protocol.v1.Conditioning.Builder b = dev.kiln.protocol.v1.Conditioning.newBuilder().setRef(nullToEmpty(ref));
        if (omit && !b.getRef().isEmpty()) {
            return b.build();
        }
        b.setContextK(TensorCodec.float32(k, shape));
        // the same array means no adapter changed the values: send it once
        if (v != k) {
            b.setContextV(TensorCodec.float32(v, shape));
        }
        return b.build();
    }

    private static Conditioning conditioning(boolean hasCond, dev.kiln.protocol.v1.Conditioning cond, boolean hasUncond,
                                             dev.kiln.protocol.v1.Conditioning uncond, String promptDropped,
                                             String negativeDropped, ConditioningMemory memory) {
        if (!hasCond || !cond.hasContextK()) {
            throw new InvalidRequestException("cond", "cond.context_k is missing");
        }
        long[] shape = TensorCodec.shape(cond.getContextK());
        if (shape.length != 2) {
            throw new InvalidRequestException("cond", "cond.context_k must be [tokens, width], got " + Arrays.toString(shape));
        }
        float[] k = floats("cond.context_k", cond.getContextK(), shape);
        float[] v = cond.hasContextV() ? floats("cond.context_v", cond.getContextV(), shape) : k;
        float[] uk = null;
        float[] uv = null;
        if (hasUncond) {
            String ref = uncond.getRef();
            if (!uncond.hasContextK()) {
                if (ref.isEmpty()) {
                    throw new InvalidRequestException("uncond", "uncond.context_k is missing");
                }
                ConditioningMemory.Held held = memory == null ? null : memory.get(ref);
                if (held == null) {
                    throw new UnknownConditioningRefException(ref);
                }
                if (held.k().length != k.length) {
                    throw new InvalidRequestException("uncond", "uncond.ref " + ref + " names states of "
                            + held.k().length + " values; cond has " + k.length);
                }
                uk = held.k();
                uv = held.v();
            } else {
                uk = floats("uncond.context_k", uncond.getContextK(), shape);
                uv = uncond.hasContextV() ? floats("uncond.context_v", uncond.getContextV(), shape) : uk;
                if (!ref.isEmpty() && memory != null) {
                    ConditioningMemory.Held held = memory.keep(ref, uk, uv);
                    uk = held.k();
                    uv = held.v();
                }
            }
        }
        return new Conditioning(shape, k, v, uk, uv, promptDropped, negativeDropped);
    }

    // ---- denoiser

    /**
     * @param previewEvery steps between events that carry the latents; 0 for none
     * @param resultOnly   whether the caller watches no progress, so the denoiser sends no event per step
     */
    public static DenoiseRequest denoiseRequest(DenoiseSpec spec, int previewEvery, boolean resultOnly) {
        return denoiseRequest(spec, previewEvery, resultOnly, "", false);
    }

    /**
     * @param uncondRef  the ref of the negative prompt's states ("" for none)
     * @param omitUncond whether the ref stands for them alone, the denoiser holding them
     */
    public static DenoiseRequest denoiseRequest(DenoiseSpec spec, int previewEvery, boolean resultOnly, String uncondRef,
                                                boolean omitUncond) {
        Conditioning c = spec.conditioning();
        DenoiseRequest.Builder b = DenoiseRequest.newBuilder().setModelId(nullToEmpty(spec.model()))
                .setCond(side(c.cond(), c.condV(), c.contextShape(), "", false))
                .setWidth(spec.width()).setHeight(spec.height()).setSteps(spec.steps())
                .setScheduler(nullToEmpty(spec.scheduler())).setGuidanceScale(spec.guidance())
                .setStrength(spec.strength()).setPreviewEvery(previewEvery).setResultOnly(resultOnly)
                .setUnet(nullToEmpty(spec.unet()));
        if (c.guided()) {
            b.setUncond(side(c.uncond(), c.uncondV(), c.contextShape(), uncondRef, omitUncond));
        }
        for (long seed : spec.seeds()) {
            b.addSeeds(seed);
        }
        if (spec.initLatents() != null) {
            b.setInitLatents(rows(Arrays.asList(spec.initLatents()), false));
        }
        return b.build();
    }

    public static DenoiseSpec denoiseSpec(DenoiseRequest r) {
        return denoiseSpec(r, null);
    }

    /**
     * The spec of a request, its referenced states kept in (or, without tensors, taken from) {@code memory}.
     *
     * @throws UnknownConditioningRefException when a ref stands alone that {@code memory} does not hold
     */
    public static DenoiseSpec denoiseSpec(DenoiseRequest r, ConditioningMemory memory) {
        adaptersNotServed(r.getHypernetworksCount());
        Conditioning c = conditioning(r.hasCond(), r.getCond(), r.hasUncond(), r.getUncond(), "", "", memory);
        if (r.getSeedsCount() == 0) {
            throw new InvalidRequestException("seeds", "seeds is empty; give one seed per image");
        }
        if (r.getPreviewEvery() < 0) {
            throw new InvalidRequestException("preview_every", "preview_every must be >= 0, got " + r.getPreviewEvery());
        }
        long[] seeds = r.getSeedsList().stream().mapToLong(Long::longValue).toArray();
        float[][] init = null;
        if (r.hasInitLatents()) {
            List<float[]> rows = latents("init_latents", r.getInitLatents());
            if (rows.size() != seeds.length) {
                throw new InvalidRequestException("init_latents", "init_latents has " + rows.size() + " rows for "
                        + seeds.length + " seeds; give one per image");
            }
            init = rows.toArray(float[][]::new);
        }
        double strength = r.hasInitLatents() ? r.getStrength() : 1.0;
        String unet = r.getUnet().isEmpty() ? UNetRole.TEACHER.id() : r.getUnet();
        return new DenoiseSpec(emptyToNull(r.getModelId()), c, r.getWidth(), r.getHeight(), r.getSteps(),
                r.getScheduler(), r.getGuidanceScale(), seeds, init, strength, unet);
    }

    /** A progress event; {@code latents} (for previews) travel as FLOAT16 when given. */
    public static DenoiseEvent progress(int step, int total, List<float[]> latents) {
        DenoiseProgress.Builder p = DenoiseProgress.newBuilder().setStep(step).setTotal(total);
        if (latents != null && !latents.isEmpty()) {
            p.setLatents(rows(latents, true));
        }
        return DenoiseEvent.newBuilder().setProgress(p).build();
    }

    public static DenoiseEvent result(List<float[]> latents) {
        return DenoiseEvent.newBuilder().setResult(DenoiseResult.newBuilder().setLatents(rows(latents, false))).build();
    }

    /** The rows of a [n, elements] tensor, one array per image. */
    public static List<float[]> latents(String field, Tensor t) {
        long[] shape = TensorCodec.shape(t);
        if (shape.length < 2) {
            throw new InvalidRequestException(field, field + " must be [images, ...], got " + Arrays.toString(shape));
        }
        float[] all = floats(field, t, shape);
        int n = Math.toIntExact(shape[0]);
        int per = n == 0 ? 0 : all.length / n;
        List<float[]> out = new ArrayList<>(n);
        if (n == 1) {
            out.add(all);
            return out;
        }
        for (int i = 0; i < n; i++) {
            out.add(Arrays.copyOfRange(all, i * per, (i + 1) * per));
        }
        return out;
    }

    private static Tensor rows(List<float[]> rows, boolean half) {
        int per = rows.isEmpty() ? 0 : rows.get(0).length;
        float[] all = new float[rows.size() * per];
        for (int i = 0; i < rows.size(); i++) {
            if (rows.get(i).length != per) {
                throw new IllegalArgumentException("latent rows differ in length: " + rows.get(i).length + " and " + per);
            }
            System.arraycopy(rows.get(i), 0, all, i * per, per);
        }
        long[] shape = {rows.size(), per};
        return half ? TensorCodec.float16(all, shape) : TensorCodec.float32(all, shape);
    }

    // ---- decoder

    public static DecodeRequest decodeRequest(DecodeSpec spec) {
        long[] s = spec.latentShape();
        long[] shape = {spec.latents().size(), s[0], s[1], s[2]};
        int per = Math.toIntExact(s[0] * s[1] * s[2]);
        float[] all = new float[spec.latents().size() * per];
        for (int i = 0; i < spec.latents().size(); i++) {
            System.arraycopy(spec.latents().get(i), 0, all, i * per, per);
        }
        DecodeRequest.Builder b = DecodeRequest.newBuilder().setModelId(nullToEmpty(spec.model()))
                .setLatents(TensorCodec.float32(all, shape)).setDecoder(nullToEmpty(spec.decoder()))
                .setFormat(ImageFormat.PNG);
        for (long seed : spec.seeds()) {
            b.addSeeds(seed);
        }
        for (Map<String, String> text : spec.pngText()) {
            PngText.Builder t = PngText.newBuilder();
            text.forEach((k, v) -> t.addChunks(TextChunk.newBuilder().setKeyword(k).setText(v)));
            b.addTexts(t);
        }
        return b.build();
    }

    public static DecodeSpec decodeSpec(DecodeRequest r) {
        if (!r.hasLatents()) {
            throw new InvalidRequestException("latents", "latents is missing");
        }
        long[] shape = TensorCodec.shape(r.getLatents());
        if (shape.length != 4 || shape[0] < 1) {
            throw new InvalidRequestException("latents", "latents must be [images, channels, h, w] with at least one image, got "
                    + Arrays.toString(shape));
        }
        if (r.getFormat() != ImageFormat.PNG && r.getFormat() != ImageFormat.IMAGE_FORMAT_UNSPECIFIED) {
            throw new InvalidRequestException("format", "format " + r.getFormat() + " is not supported; PNG is");
        }
        List<float[]> rows = latents("latents", r.getLatents());
        List<Map<String, String>> texts = new ArrayList<>();
        if (r.getTextsCount() != 0 && r.getTextsCount() != rows.size()) {
            throw new InvalidRequestException("texts", "texts must be empty or one per image: " + r.getTextsCount()
                    + " for " + rows.size());
        }
        for (int i = 0; i < rows.size(); i++) {
            Map<String, String> text = new LinkedHashMap<>();
            if (r.getTextsCount() > 0) {
                for (TextChunk c : r.getTexts(i).getChunksList()) {
                    text.put(c.getKeyword(), c.getText());
                }
            }
            texts.add(text);
        }
        if (r.getSeedsCount() != 0 && r.getSeedsCount() != rows.size()) {
            throw new InvalidRequestException("seeds", "seeds must be empty or one per image: " + r.getSeedsCount()
                    + " for " + rows.size());
        }
        long[] seeds = r.getSeedsCount() == 0 ? new long[rows.size()] : r.getSeedsList().stream().mapToLong(Long::longValue).toArray();
        String decoder = r.getDecoder().isEmpty() ? DecodeSpec.VAE : DecodeSpec.canonicalDecoder(r.getDecoder());
        return new DecodeSpec(emptyToNull(r.getModelId()), rows, new long[] {shape[1], shape[2], shape[3]}, decoder, texts,
                seeds);
    }

    public static DecodeResponse decodeResponse(List<byte[]> pngs) {
        DecodeResponse.Builder b = DecodeResponse.newBuilder();
        for (byte[] png : pngs) {
            // the stage made these arrays for this answer and nothing writes them again: wrapped, not copied
            b.addImages(EncodedImage.newBuilder().setFormat(ImageFormat.PNG).setData(UnsafeByteOperations.unsafeWrap(png)));
        }
        return b.build();
    }

    public static List<byte[]> pngs(DecodeResponse response) {
        return response.getImagesList().stream().map(i -> i.getData().toByteArray()).toList();
    }

    public static EncodeImageRequest encodeImageRequest(String model, RgbImage image, long seed) {
        return EncodeImageRequest.newBuilder().setModelId(nullToEmpty(model))
                .setImage(TensorCodec.uint8(image.rgb(), image.height(), image.width(), 3)).setSeed(seed).build();
    }

    public static RgbImage image(EncodeImageRequest r) {
        if (!r.hasImage()) {
            throw new InvalidRequestException("image", "image is missing");
        }
        long[] shape = TensorCodec.shape(r.getImage());
        if (shape.length != 3 || shape[2] != 3 || shape[0] < 1 || shape[1] < 1) {
            throw new InvalidRequestException("image", "image must be UINT8 [height, width, 3], got " + Arrays.toString(shape));
        }
        try {
            return new RgbImage(Math.toIntExact(shape[1]), Math.toIntExact(shape[0]), TensorCodec.uint8s(r.getImage()));
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException("image", "image: " + e.getMessage());
        }
    }

    // ---- shared

    private static float[] floats(String field, Tensor t, long[] expectedShape) {
        if (!Arrays.equals(TensorCodec.shape(t), expectedShape)) {
            throw new InvalidRequestException(field, field + " has shape " + Arrays.toString(TensorCodec.shape(t))
                    + "; expected " + Arrays.toString(expectedShape));
        }
        try {
            return TensorCodec.floats(t);
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(field, field + ": " + e.getMessage());
        }
    }

    private static void adaptersNotServed(int count) {
        if (count > 0) {
            throw new InvalidRequestException("hypernetworks", "this stage serves no adapters yet; "
                    + "send the request without hypernetworks and embeddings");
        }
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }
}
