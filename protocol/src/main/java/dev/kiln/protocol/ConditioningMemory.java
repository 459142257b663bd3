package dev.kiln.protocol;

import dev.kiln.pipeline.text.RecentlyUsed;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Conditioning values kept under their refs ({@code kiln.v1.Conditioning.ref}) at the receiving end of a stage
 * call: the gateway keeps what the encoder sent, the denoiser what gateways sent, so the states of a negative
 * prompt that nearly every request brings cross each hop once instead of with every request. The last
 * {@value #KEPT} refs are kept. A ref gives the same arrays every time, which the denoiser's pinned context memory
 * then recognises from request to request instead of copying them in again.
 */
public final class ConditioningMemory {
    public static final int KEPT = 32;

    /** The values of one ref; {@code v} is {@code k} itself when no adapter made them differ. */
    public record Held(String ref, float[] k, float[] v) {
    }

    private final RecentlyUsed<Held> byRef = new RecentlyUsed<>(KEPT);
    /** Arrays compare by identity, so this finds the ref of arrays this memory handed out; gone with the arrays. */
    private final Map<float[], String> refOfK = Collections.synchronizedMap(new WeakHashMap<>());

    /** The values kept under {@code ref}, or null. */
    public Held get(String ref) {
        return byRef.get(ref);
    }

    /**
     * Keeps {@code k} and {@code v} under {@code ref} and returns what is kept under it now: the arrays kept first
     * when the ref was known already (a ref always names the same values).
     */
    public Held keep(String ref, float[] k, float[] v) {
        byRef.putIfAbsent(ref, new Held(ref, k, v));
        Held held = byRef.get(ref);
        if (held == null) {
            // pushed out at once by concurrent callers: these arrays serve this request all the same
            return new Held(ref, k, v);
        }
        refOfK.put(held.k(), ref);
        return held;
    }

    /** The ref of keys this memory handed out (by identity, not by value), or null. */
    public String refOf(float[] k) {
        return k == null ? null : refOfK.get(k);
    }
}
