package dev.kiln.cli;

import dev.kiln.pipeline.eval.EmojiDataset;
import dev.kiln.pipeline.eval.EvalPrompt;
import dev.kiln.pipeline.eval.ImageSampler;
import dev.kiln.pipeline.image.RgbImage;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.model.UNetRole;
import dev.kiln.pipeline.stage.DecodeSpec;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kiln samples}: PNG grids of fixed prompts (the first of each split of {@code eval/prompts.json},
 * with their seeds) for the model card: teacher and student, each through the VAE and the consistency decoder.
 */
@Command(name = "samples", mixinStandardHelpOptions = true,
        description = "Write sample grids (teacher, student, VAE and consistency decoder) for fixed prompts.")
final class SamplesCommand implements Callable<Integer> {
    @CommandLine.Mixin
    ModelOptions models = new ModelOptions();

    @Option(names = {"-o", "--out"}, paramLabel = "DIR", description = "Folder for the grids (default: <package>/samples).")
    Path out;

    @Option(names = "--per-split", defaultValue = "6", description = "Prompts from each split (default: ${DEFAULT-VALUE}).")
    int perSplit;

    @Option(names = "--scale", defaultValue = "4", description = "Pixel scale of the grid (default: ${DEFAULT-VALUE}).")
    int scale;

    @Option(names = "--dataset", paramLabel = "DIR",
            description = "Adds the real pictures as a column when this emoji dataset exists (default: <models-dir>/recipes/work/emoji-data).")
    Path dataset;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (perSplit < 1 || scale < 1) {
            err.println("error: --per-split and --scale must be at least 1");
            return CommandFailure.BAD_REQUEST;
        }
        try (ModelCatalog catalog = models.catalog();
             ImageSampler sampler = new ImageSampler(catalog, models.modelId())) {
            ModelPackage pkg = sampler.modelPackage();
            List<EvalPrompt> all = EvalPrompt.read(pkg.root().resolve("eval/prompts.json"));
            List<EvalPrompt> prompts = new ArrayList<>();
            for (String split : List.of(EvalPrompt.HELD_IN, EvalPrompt.HELD_OUT)) {
                List<EvalPrompt> s = EvalPrompt.split(all, split);
                prompts.addAll(s.subList(0, Math.min(perSplit, s.size())));
            }
            List<String> texts = prompts.stream().map(EvalPrompt::caption).toList();
            long[] seeds = prompts.stream().mapToLong(EvalPrompt::seed).toArray();
            boolean cd = pkg.componentPath(ModelPackage.CONSISTENCY_DECODER).isPresent();

            List<String> labels = new ArrayList<>();
            List<String> legendColumns = new ArrayList<>();
            List<List<RgbImage>> columns = new ArrayList<>();
            Path data = dataset != null ? dataset : models.modelsDir().resolve("recipes/work/emoji-data");
            if (Files.isRegularFile(data.resolve("index.jsonl"))) {
                labels.add("real");
                legendColumns.add("real: the dataset's picture");
                columns.add(EmojiDataset.open(data).images(prompts, pkg.layout().imageSize()));
            }
            List<UNetRole> roles = new ArrayList<>(pkg.roles());
            java.util.Collections.reverse(roles); // the student first: it is what a request gets by default
            for (UNetRole role : roles) {
                ImageSampler.Setup setup = new ImageSampler.Setup(role.id(), null, null, null, DecodeSpec.VAE);
                var settings = sampler.settings(texts.get(0), seeds[0], setup);
                String what = role.id() + ": " + settings.steps() + " step(s) " + settings.samplerName()
                        + (settings.guided() ? ", guidance " + settings.guidance() : ", no guidance");
                List<float[]> latents = sampler.latents(texts, seeds, setup);
                labels.add(role.id() + " VAE");
                legendColumns.add(what + ", VAE decoder");
                columns.add(sampler.decode(latents, seeds, DecodeSpec.VAE));
                if (cd) {
                    labels.add(role.id() + " CD");
                    legendColumns.add(what + ", consistency decoder (2 steps)");
                    columns.add(sampler.decode(latents, seeds, DecodeSpec.CONSISTENCY));
                }
            }
            Path dir = out != null ? out : pkg.root().resolve("samples");
            Files.createDirectories(dir);
            Path grid = dir.resolve("grid.png");
            ImageIO.write(SampleGrid.of(labels, columns, scale), "png", grid.toFile());
            StringBuilder legend = new StringBuilder("# rows of " + grid.getFileName() + ", top to bottom: caption (split, seed)\n");
            for (EvalPrompt p : prompts) {
                legend.append(p.caption()).append(" (").append(EvalPrompt.splitLabel(p.split())).append(", seed ")
                        .append(p.seed()).append(")\n");
            }
            legend.append("# columns, left to right:\n");
            legendColumns.forEach(c -> legend.append(c).append('\n'));
            Files.writeString(dir.resolve("grid.txt"), legend.toString());
            stdout.println("wrote " + grid + " (" + prompts.size() + " prompts × " + labels.size() + " columns: "
                    + String.join(", ", legendColumns) + ") and " + dir.resolve("grid.txt"));
            return 0;
        } catch (RuntimeException e) {
            return CommandFailure.report(err, e);
        }
    }
}
