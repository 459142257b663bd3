package dev.kiln.pipeline;

import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.model.UNetRole;

/**
 * What a caller asks for. Every field but the prompt may be left null, meaning "the model's default"
 * (from its {@code kiln.json}, else Stable Diffusion's); {@link GenerationSettings#resolve} fills them
 * in and checks the result.
 *
 * @param model          model id, or null for the catalog's default
 * @param prompt         what to draw
 * @param negativePrompt what to steer away from (used only with guidance)
 * @param width          pixels
 * @param height         pixels
 * @param steps          scheduler steps
 * @param scheduler      scheduler name ({@code ddim}, {@code euler}, {@code dpmpp_2m}, {@code lcm}, {@code onestep},
 *                       or an AUTOMATIC1111 sampler name)
 * @param guidance       classifier-free guidance scale; guidance is skipped at 1 or below
 * @param seed           seed of the first image (image i uses seed + i); null or -1 for a random one
 * @param count          number of images
 * @param initImage      encoded picture (PNG, JPEG, ...) for image-to-image, or null
 * @param strength       image-to-image strength in (0, 1]
 * @param decoder        {@code vae}, or {@code consistency} when the package ships a consistency decoder
 * @param unet           {@code teacher} or {@code student} (a package's one-step student), null for the
 *                       package's default; a model id may carry it as a suffix instead: {@code emoji-tiny:teacher}
 */
public record GenerationRequest(String model, String prompt, String negativePrompt, Integer width, Integer height,
                                Integer steps, String scheduler, Double guidance, Long seed, Integer count,
                                byte[] initImage, Double strength, String decoder, String unet) {

    /**
     * This request with a {@code model:unet} suffix moved into {@link #unet()}, so clients that can only
     * set OpenAI's {@code model} field can still choose the teacher or the student.
     *
     * @throws InvalidRequestException when the suffix and the {@code unet} field disagree
     */
    public GenerationRequest withUNetFromModel() {
        if (model == null) {
            return this;
        }
        int colon = model.lastIndexOf(':');
        if (colon <= 0) {
            return this;
        }
        String suffix = model.substring(colon + 1);
        if (UNetRole.parse(suffix).isEmpty()) {
            return this;
        }
        if (unet != null && !unet.isBlank() && !unet.trim().equalsIgnoreCase(suffix)) {
            throw new InvalidRequestException("unet", "model '" + model + "' asks for the " + suffix
                    + " UNet but unet is '" + unet + "'; give one of them");
        }
        return toBuilder().model(model.substring(0, colon)).unet(suffix).build();
    }

    public static Builder builder(String prompt) {
        return new Builder(prompt);
    }

    public Builder toBuilder() {
        Builder b = new Builder(prompt);
        b.model = model;
        b.negativePrompt = negativePrompt;
        b.width = width;
        b.height = height;
        b.steps = steps;
        b.scheduler = scheduler;
        b.guidance = guidance;
        b.seed = seed;
        b.count = count;
        b.initImage = initImage;
        b.strength = strength;
        b.decoder = decoder;
        b.unet = unet;
        return b;
    }

    /** Builds requests field by field; unset fields stay null (the model's defaults). */
    public static final class Builder {
        private String prompt;
        private String model;
        private String negativePrompt;
        private Integer width;
        private Integer height;
        private Integer steps;
        private String scheduler;
        private Double guidance;
        private Long seed;
        private Integer count;
        private byte[] initImage;
        private Double strength;
        private String decoder;
        private String unet;

        private Builder(String prompt) {
            this.prompt = prompt;
        }

        public Builder prompt(String v) {
            prompt = v;
            return this;
        }

        public Builder model(String v) {
            model = v;
            return this;
        }

        public Builder negativePrompt(String v) {
            negativePrompt = v;
            return this;
        }

        public Builder size(Integer w, Integer h) {
            width = w;
            height = h;
            return this;
        }

        public Builder steps(Integer v) {
            steps = v;
            return this;
        }

        public Builder scheduler(String v) {
            scheduler = v;
            return this;
        }

        public Builder guidance(Double v) {
            guidance = v;
            return this;
        }

        public Builder seed(Long v) {
            seed = v;
            return this;
        }

        public Builder count(Integer v) {
            count = v;
            return this;
        }

        public Builder initImage(byte[] v, Double strength) {
            initImage = v;
            this.strength = strength;
            return this;
        }

        public Builder decoder(String v) {
            decoder = v;
            return this;
        }

        /** {@code teacher} or {@code student}; null for the package's default. */
        public Builder unet(String v) {
            unet = v;
            return this;
        }

        public GenerationRequest build() {
            return new GenerationRequest(model, prompt, negativePrompt, width, height, steps, scheduler, guidance, seed,
                    count, initImage, strength, decoder, unet);
        }
    }
}
