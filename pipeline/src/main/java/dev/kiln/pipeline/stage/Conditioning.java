package dev.kiln.pipeline.stage;

import java.util.Arrays;

/**
 * The text conditioning of one request: hidden states for the prompt and, when guidance is on, for
 * the negative prompt. Keys and values are separate because hypernetworks transform them separately;
 * without an adapter both are the same array.
 *
 * @param contextShape     [L, D] of every array here
 * @param cond             prompt hidden states for the attention keys, L·D values
 * @param condV            prompt hidden states for the attention values
 * @param uncond           negative prompt hidden states for the keys, or null without guidance
 * @param uncondV          negative prompt hidden states for the values, or null without guidance
 * @param promptDropped    the part of the prompt the tokenizer cut off ("" when none was)
 * @param negativeDropped  the part of the negative prompt cut off ("" when none was)
 */
public record Conditioning(long[] contextShape, float[] cond, float[] condV, float[] uncond, float[] uncondV,
                           String promptDropped, String negativeDropped) {
    public Conditioning {
        if (contextShape.length != 2) {
            throw new IllegalArgumentException("context shape must be [L, D], was " + Arrays.toString(contextShape));
        }
        int n = Math.toIntExact(contextShape[0] * contextShape[1]);
        check("cond", cond, n);
        check("condV", condV, n);
        if ((uncond == null) != (uncondV == null)) {
            throw new IllegalArgumentException("uncond and uncondV must both be given or both be absent");
        }
        if (uncond != null) {
            check("uncond", uncond, n);
            check("uncondV", uncondV, n);
        }
    }

    private static void check(String name, float[] a, int n) {
        if (a == null || a.length != n) {
            throw new IllegalArgumentException(name + " must hold " + n + " values, has "
                    + (a == null ? "none" : a.length));
        }
    }

    public boolean guided() {
        return uncond != null;
    }
}
