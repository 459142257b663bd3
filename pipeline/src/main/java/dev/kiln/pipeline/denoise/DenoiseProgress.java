package dev.kiln.pipeline.denoise;

import java.util.List;

/** Told after each step a request's images have all taken. */
@FunctionalInterface
public interface DenoiseProgress {
    /**
     * @param step    steps done by every image of the request (1-based after the first step)
     * @param total   steps the request takes in all
     * @param latents the request's current latents, one array per image, for previews; do not modify. An
     *                in-process denoiser always gives them; a remote one only on the steps {@link #previewEvery()}
     *                asks for (and the last), and an empty list otherwise, so they need not cross the network
     */
    void onStep(int step, int total, List<float[]> latents);

    /** Every how many steps the listener wants the latents (for previews); 0 for never. */
    default int previewEvery() {
        return 0;
    }

    /** Whether the latents of {@code step} out of {@code total} are wanted. */
    default boolean wantsLatents(int step, int total) {
        int every = previewEvery();
        return every > 0 && (step % every == 0 || step == total);
    }

    DenoiseProgress NONE = (step, total, latents) -> { };

    /** {@code listener}, asking for the latents every {@code every} steps. */
    static DenoiseProgress previewing(int every, DenoiseProgress listener) {
        if (every < 0) {
            throw new IllegalArgumentException("preview interval must be >= 0, was " + every);
        }
        return new DenoiseProgress() {
            @Override
            public void onStep(int step, int total, List<float[]> latents) {
                listener.onStep(step, total, latents);
            }

            @Override
            public int previewEvery() {
                return every;
            }
        };
    }
}
