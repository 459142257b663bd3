package dev.kiln.pipeline.stage;

/**
 * What the denoiser stage is asked: sample the latents of one request's images.
 *
 * @param model        model id
 * @param conditioning the request's hidden states
 * @param width        image width in pixels
 * @param height       image height in pixels
 * @param steps        scheduler steps (image-to-image runs the last {@code strength} part of them)
 * @param scheduler    scheduler name, as {@link dev.kiln.pipeline.scheduler.Schedulers#create} takes it
 * @param guidance     classifier-free guidance scale; used only when the conditioning is guided
 * @param seeds        one seed per image: image i's noise depends on {@code seeds[i]} alone
 * @param initLatents  scaled latents of the init image per image for image-to-image, or null
 * @param strength     how much of the init image is re-imagined, in (0, 1]; 1 without init latents
 * @param unet         which of the package's UNets samples: {@code teacher} or {@code student}
 *                     ({@link dev.kiln.pipeline.model.UNetRole#id()})
 */
public record DenoiseSpec(String model, Conditioning conditioning, int width, int height, int steps,
                          String scheduler, double guidance, long[] seeds, float[][] initLatents, double strength,
                          String unet) {
    public DenoiseSpec {
        if (seeds.length == 0) {
            throw new IllegalArgumentException("at least one seed is needed");
        }
        if (initLatents != null && initLatents.length != seeds.length) {
            throw new IllegalArgumentException("one init latent per image is needed: " + initLatents.length
                    + " for " + seeds.length + " images");
        }
    }

    /** A request for the package's teacher UNet ({@code unet/model.onnx}). */
    public DenoiseSpec(String model, Conditioning conditioning, int width, int height, int steps, String scheduler,
                       double guidance, long[] seeds, float[][] initLatents, double strength) {
        this(model, conditioning, width, height, steps, scheduler, guidance, seeds, initLatents, strength,
                dev.kiln.pipeline.model.UNetRole.TEACHER.id());
    }

    public int count() {
        return seeds.length;
    }
}
