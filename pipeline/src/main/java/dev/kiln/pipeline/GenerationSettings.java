package dev.kiln.pipeline;

import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.image.ImageFiles;
import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.model.ConditioningLayout;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.scheduler.Scheduler;
import dev.kiln.pipeline.scheduler.Schedulers;
import dev.kiln.pipeline.stage.DecodeSpec;
import dev.kiln.pipeline.model.SamplingDefaults;
import dev.kiln.pipeline.model.UNetRole;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A request with every default filled in and every value checked: what the stages are asked to do.
 *
 * @param model       model id
 * @param scheduler   the scheduler's canonical name
 * @param samplerName the scheduler's AUTOMATIC1111 name, written into the PNG
 * @param guided      whether classifier-free guidance runs (guidance above 1 and a scheduler that uses it)
 * @param seed        seed of image 0; image i uses {@code seed + i}
 * @param initImage   the init picture resized to width×height, or null
 * @param decoder     {@link DecodeSpec#VAE} or {@link DecodeSpec#CONSISTENCY}
 * @param unet        which UNet samples: {@code teacher} or {@code student} ({@link UNetRole#id()})
 */
public record GenerationSettings(String model, String prompt, String negativePrompt, int width, int height, int steps,
                                 String scheduler, String samplerName, double guidance, boolean guided, long seed,
                                 int count, RgbImage initImage, double strength, String decoder, String unet) {
    public static final int MAX_STEPS = 150;
    public static final int MAX_COUNT = 10;
    public static final double MAX_GUIDANCE = 30;

    /** Defaults when a package's {@code kiln.json} has none: Stable Diffusion's. */
    static final int DEFAULT_STEPS = 50;
    static final String DEFAULT_SCHEDULER = "euler";
    static final double DEFAULT_GUIDANCE = 7.5;

    /**
     * Fills in {@code request}'s defaults from {@code pkg} and checks every value.
     *
     * @throws InvalidRequestException naming the first field that is wrong and what would be right
     */
    public static GenerationSettings resolve(GenerationRequest request, ModelPackage pkg) {
        if (request.prompt() == null || request.prompt().isBlank()) {
            throw new InvalidRequestException("prompt", "prompt must not be empty");
        }
        int count = orDefault(request.count(), 1);
        if (count < 1 || count > MAX_COUNT) {
            throw new InvalidRequestException("n", "n must be between 1 and " + MAX_COUNT + ", was " + count);
        }
        ConditioningLayout layout = pkg.layout();
        int width = orDefault(request.width(), layout.imageSize());
        int height = orDefault(request.height(), layout.imageSize());
        checkSide("width", width, layout);
        checkSide("height", height, layout);

        UNetRole role = pkg.defaultRole();
        if (request.unet() != null && !request.unet().isBlank()) {
            role = UNetRole.parse(request.unet()).orElseThrow(() -> new InvalidRequestException("unet",
                    "unet must be teacher or student, was '" + request.unet() + "'"));
            if (!pkg.roles().contains(role)) {
                throw new InvalidRequestException("unet", "model " + pkg.id() + " has no " + role.id()
                        + " UNet; it offers: " + String.join(", ", pkg.roles().stream().map(UNetRole::id).toList()));
            }
        }
        SamplingDefaults defaults = pkg.samplingDefaults(role);
        String schedulerName = request.scheduler() == null || request.scheduler().isBlank()
                ? orDefault(defaults.scheduler(), DEFAULT_SCHEDULER) : request.scheduler();
        Scheduler scheduler;
        try {
            scheduler = pkg.scheduler(schedulerName);
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException("scheduler", e.getMessage());
        }
        int steps = orDefault(request.steps(), orDefault(defaults.steps(), DEFAULT_STEPS));
        int maxSteps = Math.min(MAX_STEPS, scheduler.maxSteps());
        if (steps < 1 || steps > maxSteps) {
            throw new InvalidRequestException("steps", "steps must be between 1 and " + maxSteps + " for scheduler "
                    + scheduler.name() + ", was " + steps);
        }
        double guidance = request.guidance() != null ? request.guidance() : orDefault(defaults.guidance(), DEFAULT_GUIDANCE);
        if (!Double.isFinite(guidance) || guidance < 0 || guidance > MAX_GUIDANCE) {
            throw new InvalidRequestException("guidance_scale", "guidance_scale must be between 0 and " + (int) MAX_GUIDANCE
                    + ", was " + guidance);
        }
        long seed = request.seed() == null || request.seed() == -1
                ? ThreadLocalRandom.current().nextLong(1L << 32) : request.seed();
        if (seed < 0) {
            throw new InvalidRequestException("seed", "seed must be -1 (random) or a number >= 0, was " + seed);
        }
        RgbImage init = null;
        double strength = 1.0;
        if (request.initImage() != null) {
            strength = request.strength() == null ? 0.75 : request.strength();
            if (!(strength > 0 && strength <= 1)) {
                throw new InvalidRequestException("strength", "strength must be in (0, 1], was " + strength);
            }
            if ((int) (steps * strength) < 1) {
                throw new InvalidRequestException("strength", "strength " + strength + " × " + steps
                        + " steps leaves no step to run; raise strength or steps");
            }
            try {
                init = ImageFiles.read(request.initImage(), width, height);
            } catch (IllegalArgumentException e) {
                throw new InvalidRequestException("image", e.getMessage());
            }
            if (!pkg.hasVaeEncoder()) {
                throw new InvalidRequestException("image", "model " + pkg.id()
                        + " ships no vae_encoder, so it cannot do image-to-image");
            }
        } else if (request.strength() != null) {
            throw new InvalidRequestException("strength", "strength applies only with an init image");
        }
        String decoder = DecodeSpec.VAE;
        if (request.decoder() != null && !request.decoder().isBlank()) {
            List<String> offered = pkg.componentPath(ModelPackage.CONSISTENCY_DECODER).isPresent()
                    ? List.of(DecodeSpec.VAE, DecodeSpec.CONSISTENCY) : List.of(DecodeSpec.VAE);
            decoder = DecodeSpec.canonicalDecoder(request.decoder());
            if (!offered.contains(decoder)) {
                throw new InvalidRequestException("decoder", "unknown decoder '" + request.decoder() + "'; model "
                        + pkg.id() + " offers: " + String.join(", ", offered));
            }
        }
        String negative = request.negativePrompt() == null ? "" : request.negativePrompt();
        boolean guided = guidance > 1 && scheduler.usesGuidance();
        return new GenerationSettings(pkg.id(), request.prompt(), negative, width, height, steps, scheduler.name(),
                Schedulers.displayName(scheduler.name()), guidance, guided, seed, count, init, strength, decoder,
                role.id());
    }

    private static void checkSide(String name, int px, ConditioningLayout layout) {
        if (px < layout.sizeMultiple() || px > layout.maxImageSize()) {
            throw new InvalidRequestException("size", name + " must be between " + layout.sizeMultiple() + " and "
                    + layout.maxImageSize() + " pixels, was " + px);
        }
        if (px % layout.sizeMultiple() != 0) {
            throw new InvalidRequestException("size", name + " must be a multiple of " + layout.sizeMultiple()
                    + " pixels for this model, was " + px + " (try " + Math.max(layout.sizeMultiple(),
                    Math.round((double) px / layout.sizeMultiple()) * layout.sizeMultiple()) + ")");
        }
    }

    private static int orDefault(Integer v, int d) {
        return v == null ? d : v;
    }

    private static double orDefault(Double v, double d) {
        return v == null ? d : v;
    }

    private static String orDefault(String v, String d) {
        return v == null ? d : v;
    }

    /** Seeds of all images: image i uses seed + i, as AUTOMATIC1111 numbers a batch. */
    public long[] seeds() {
        long[] s = new long[count];
        for (int i = 0; i < count; i++) {
            s[i] = seed + i;
        }
        return s;
    }

    /** The generation parameters of image {@code i} as AUTOMATIC1111 writes them into its PNGs. */
    public String infotext(int i) {
        StringBuilder b = new StringBuilder(prompt);
        if (!negativePrompt.isEmpty()) {
            b.append("\nNegative prompt: ").append(negativePrompt);
        }
        Map<String, String> p = new LinkedHashMap<>();
        p.put("Steps", Integer.toString(steps));
        p.put("Sampler", samplerName);
        p.put("CFG scale", number(guidance));
        p.put("Seed", Long.toString(seed + i));
        p.put("Size", width + "x" + height);
        p.put("Model", model);
        if (unet.equals(UNetRole.STUDENT.id())) {
            p.put("UNet", unet);
        }
        if (initImage != null) {
            p.put("Denoising strength", number(strength));
        }
        if (!decoder.equals(DecodeSpec.VAE)) {
            p.put("Decoder", decoder);
        }
        p.put("Version", "kiln");
        b.append('\n');
        String sep = "";
        for (Map.Entry<String, String> e : p.entrySet()) {
            b.append(sep).append(e.getKey()).append(": ").append(e.getValue());
            sep = ", ";
        }
        return b.toString();
    }

    private static String number(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
