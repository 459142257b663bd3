package dev.kiln.cli;

import dev.kiln.pipeline.GeneratedImage;
import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.GenerationRequest;
import dev.kiln.pipeline.GenerationResult;
import dev.kiln.pipeline.GenerationSettings;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.model.ModelCatalog;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code kiln generate}: a prompt to PNG files, in this process. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate pictures from a prompt and write them as PNG files.")
final class GenerateCommand implements Callable<Integer> {

    @Parameters(arity = "1..*", paramLabel = "PROMPT", description = "What to draw (several words may be given unquoted).")
    List<String> prompt;

    @Option(names = {"-N", "--negative"}, description = "What to steer away from.")
    String negative;

    @Option(names = {"-s", "--seed"}, defaultValue = "-1", description = "Seed of the first image; -1 picks one (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--steps", description = "Scheduler steps (default: the model's).")
    Integer steps;

    @Option(names = "--scheduler", description = "ddim, euler, dpmpp_2m, lcm or onestep (default: the model's).")
    String scheduler;

    @Option(names = {"-g", "--guidance"}, description = "Classifier-free guidance scale; 1 or less turns it off (default: the model's).")
    Double guidance;

    @Option(names = "--size", paramLabel = "WxH", description = "Picture size in pixels, e.g. 64x64 (default: the model's).")
    String size;

    @Option(names = {"-n", "--count"}, defaultValue = "1", description = "Number of pictures (default: ${DEFAULT-VALUE}).")
    int count;

    @Option(names = {"-o", "--output"}, defaultValue = "kiln.png",
            description = "Output PNG; with several pictures, -1, -2, ... is added before .png (default: ${DEFAULT-VALUE}).")
    Path output;

    @CommandLine.Mixin
    ModelOptions models = new ModelOptions();

    @Option(names = "--init-image", description = "Picture to start from (image-to-image).")
    Path initImage;

    @Option(names = "--strength", description = "Image-to-image strength in (0, 1] (default 0.75).")
    Double strength;

    @Option(names = "--teacher", description = "Sample with the model's teacher UNet (many steps) instead of its one-step student.")
    boolean teacher;

    @Option(names = "--unet", paramLabel = "teacher|student", description = "Which UNet samples (default: the model's, for emoji-tiny the one-step student).")
    String unet;

    @Option(names = "--decoder", paramLabel = "vae|consistency", description = "Latents to pixels with the VAE (default) or the model's consistency decoder.")
    String decoder;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        GenerationRequest request;
        try {
            request = request();
        } catch (InvalidRequestException e) {
            return CommandFailure.report(err, e);
        }
        try (ModelCatalog catalog = models.catalog();
             GenerationPipeline pipeline = GenerationPipeline.embedded(catalog, DenoiseLoopOptions.defaults())) {
            GenerationSettings settings = pipeline.resolve(request);
            GenerationResult result;
            try (ProgressBar bar = new ProgressBarBuilder().setTaskName("Denoising").setInitialMax(settings.steps())
                    .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(100).continuousUpdate().build()) {
                result = pipeline.generate(settings, (step, total, latents) -> {
                    bar.maxHint(total);
                    bar.stepTo(step);
                }, () -> false);
            }
            for (String w : result.warnings()) {
                err.println("warning: " + w);
            }
            List<Path> written = write(result);
            for (int i = 0; i < written.size(); i++) {
                GeneratedImage img = result.images().get(i);
                out.printf("%s  seed %d  %dx%d  %d steps %s  model %s (%s UNet, %s decoder)%n", written.get(i), img.seed(),
                        settings.width(), settings.height(), settings.steps(), settings.samplerName(), settings.model(),
                        settings.unet(), settings.decoder());
            }
            out.printf("took %.2f s (encode %.0f ms, denoise %.0f ms, decode %.0f ms)%n",
                    (result.encodeNanos() + result.denoiseNanos() + result.decodeNanos()) / 1e9,
                    result.encodeNanos() / 1e6, result.denoiseNanos() / 1e6, result.decodeNanos() / 1e6);
            return 0;
        } catch (RuntimeException e) {
            return CommandFailure.report(err, e);
        }
    }

    private GenerationRequest request() throws IOException {
        Integer w = null;
        Integer h = null;
        if (size != null) {
            String[] p = size.toLowerCase().split("x");
            try {
                if (p.length != 2) {
                    throw new NumberFormatException();
                }
                w = Integer.parseInt(p[0].trim());
                h = Integer.parseInt(p[1].trim());
            } catch (NumberFormatException e) {
                throw new InvalidRequestException("size", "--size must look like 64x64, was '" + size + "'");
            }
        }
        byte[] init = null;
        if (initImage != null) {
            if (!Files.isRegularFile(initImage)) {
                throw new InvalidRequestException("image", "--init-image " + initImage + " is not a file");
            }
            init = Files.readAllBytes(initImage);
        }
        if (teacher && unet != null && !unet.equalsIgnoreCase("teacher")) {
            throw new InvalidRequestException("unet", "--teacher and --unet " + unet + " contradict each other; give one");
        }
        return GenerationRequest.builder(String.join(" ", prompt)).model(models.modelId()).negativePrompt(negative)
                .size(w, h).steps(steps).scheduler(scheduler).guidance(guidance).seed(seed).count(count)
                .initImage(init, strength).unet(teacher ? "teacher" : unet).decoder(decoder).build();
    }

    private List<Path> write(GenerationResult result) throws IOException {
        List<Path> paths = new ArrayList<>();
        int n = result.images().size();
        for (GeneratedImage img : result.images()) {
            Path p = n == 1 ? output : numbered(output, img.index() + 1);
            Path parent = p.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.write(p, img.png());
            paths.add(p);
        }
        return paths;
    }

    static Path numbered(Path path, int i) {
        String name = path.getFileName().toString();
        int dot = name.toLowerCase().endsWith(".png") ? name.length() - 4 : name.length();
        return path.resolveSibling(name.substring(0, dot) + "-" + i + name.substring(dot));
    }
}
