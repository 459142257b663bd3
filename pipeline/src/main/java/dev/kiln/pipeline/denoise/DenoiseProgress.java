package dev.kiln.pipeline.denoise;

/** Told after each step a request's images have all taken. */
@FunctionalInterface
public interface DenoiseProgress {
    /**
     * @param step    steps done by every image of the request (1-based after the first step)
     * @param total   steps the request takes in all
     * @param latents the request's current latents, one array per image, for previews; do not modify
     */
    void onStep(int step, int total, java.util.List<float[]> latents);

    DenoiseProgress NONE = (step, total, latents) -> { };
}
