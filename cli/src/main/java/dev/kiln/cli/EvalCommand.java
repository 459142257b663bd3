package dev.kiln.cli;

import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.eval.EmojiDataset;
import dev.kiln.pipeline.eval.EmojiEvaluation;
import dev.kiln.pipeline.eval.EvalPrompt;
import dev.kiln.pipeline.eval.ImageSampler;
import dev.kiln.pipeline.model.ModelCatalog;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kiln eval}: the quality table of a model package, on its fixed prompts and seeds. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Measure a model package with its evaluator: prompt retrieval (top-1 of 100 captions), emoji-FD,",
                "style accuracy and reconstruction PSNR, for real pictures, the teacher (DDIM 50/20/10, DPM++ 2M 20),",
                "the one-step student and both decoders, on held-in and held-out prompts. Prints a Markdown table."})
final class EvalCommand implements Callable<Integer> {
    @CommandLine.Mixin
    ModelOptions models = new ModelOptions();

    @Option(names = "--dataset", paramLabel = "DIR",
            description = "The emoji dataset built by models/recipes/emoji_data.py (default: <models-dir>/recipes/work/emoji-data).")
    Path dataset;

    @Option(names = "--limit", paramLabel = "N", description = "Use only the first N prompts of each split (default: all).")
    Integer limit;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the rows as JSON here.")
    Path json;

    @Option(names = "--markdown", paramLabel = "FILE", description = "Also write the Markdown table here.")
    Path markdown;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (ModelCatalog catalog = models.catalog();
             ImageSampler sampler = new ImageSampler(catalog, models.modelId())) {
            Path promptsFile = sampler.modelPackage().root().resolve("eval/prompts.json");
            List<EvalPrompt> prompts = limit(EvalPrompt.read(promptsFile));
            EmojiDataset data = EmojiDataset.open(dataset != null ? dataset
                    : models.modelsDir().resolve("recipes/work/emoji-data"));
            EmojiEvaluation evaluation = new EmojiEvaluation(sampler, data, line -> {
                err.println(line);
                err.flush();
            });
            List<EmojiEvaluation.Row> rows = evaluation.run(prompts);
            String table = EmojiEvaluation.markdown(rows);
            out.print(table);
            out.println();
            for (String t : EmojiEvaluation.targets(rows)) {
                out.println("- " + t);
            }
            if (markdown != null) {
                write(markdown, table);
            }
            if (json != null) {
                write(json, EmojiEvaluation.json(sampler.modelPackage().id(), rows));
            }
            return 0;
        } catch (RuntimeException e) {
            return CommandFailure.report(err, e);
        }
    }

    private List<EvalPrompt> limit(List<EvalPrompt> all) {
        if (limit == null) {
            return all;
        }
        if (limit < 1) {
            throw new InvalidRequestException("limit", "--limit must be at least 1, was " + limit);
        }
        List<EvalPrompt> out = new ArrayList<>();
        for (String split : List.of(EvalPrompt.HELD_IN, EvalPrompt.HELD_OUT)) {
            List<EvalPrompt> s = EvalPrompt.split(all, split);
            out.addAll(s.subList(0, Math.min(limit, s.size())));
        }
        return out;
    }

    static void write(Path file, String text) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(file, text);
    }
}
