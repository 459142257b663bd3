package dev.kiln.bench;

import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.GenerationRequest;
import dev.kiln.pipeline.GenerationResult;
import dev.kiln.pipeline.GenerationSettings;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.model.OnnxModel;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.stage.LocalDenoiserStage;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The pipeline's own cost: end-to-end time of a generation (resolving the request's settings included) over the
 * summed time of the {@code OrtSession.run} calls it made (text encoder, every UNet step, VAE decoder), on the
 * same runs.
 * A ratio of 1.00 would mean Kiln adds nothing around ONNX Runtime.
 *
 * <p>Usage: {@code bench/run overhead [model] [steps] [runs] [sizes] [threads] [warm-up]}, defaults
 * sd15-tiny-kiln 20 20 64,512 0 30 (0 threads: ONNX Runtime picks the intra-op thread count). The warm-up runs
 * let the JIT compile the per-step code first, so the ratio is the one a long-running server sees.
 */
public final class PipelineOverhead {
    public static void main(String[] args) {
        String model = args.length > 0 ? args[0] : "sd15-tiny-kiln";
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        String sizes = args.length > 3 ? args[3] : "64,512";
        int threads = args.length > 4 ? Integer.parseInt(args[4]) : 0;
        int warmup = args.length > 5 ? Integer.parseInt(args[5]) : 30;
        Path models = Path.of(System.getProperty("kiln.models.dir", "models"));
        for (String sz : sizes.split(",")) {
            run(models, model, steps, runs, Integer.parseInt(sz.trim()), threads, warmup);
        }
    }

    /** One configuration's pipeline and what its measured runs added up to. */
    private static final class Configuration {
        final String name;
        final GenerationPipeline pipeline;
        final AtomicLong stepNanos = new AtomicLong();
        final double[] ratios;
        long e2e;
        long ort;
        final long[] stage = new long[3];
        final long[] stageOrt = new long[3];

        Configuration(String name, GenerationPipeline pipeline, int runs) {
            this.name = name;
            this.pipeline = pipeline;
            this.ratios = new double[runs];
            ((LocalDenoiserStage) pipeline.denoiser()).observe((m, rows, nanos) -> stepNanos.addAndGet(nanos));
        }
    }

    /**
     * Both fill-wait configurations share one catalog (the same ONNX Runtime sessions) and take turns run by
     * run, so neither gets a warmer JIT or a quieter minute than the other.
     */
    private static void run(Path models, String model, int steps, int runs, int size, int threads, int warmup) {
        System.out.printf("%npipeline overhead: %s, %d steps, %dx%d, guidance 7.5, %d runs each (after %d warm-up runs each),"
                + " configurations taking turns%n", model, steps, size, size, runs, warmup);
        System.out.printf("%-28s %10s %10s %8s%n", "configuration", "e2e ms", "ort ms", "ratio");
        List<Duration> fills = List.of(Duration.ZERO, DenoiseLoopOptions.defaults().maxFillWait());
        List<Configuration> configurations = new ArrayList<>();
        try (ModelCatalog catalog = ModelCatalog.shipped(models, model, OnnxRuntimeOptions.cpu().withThreads(threads))) {
            for (Duration fill : fills) {
                configurations.add(new Configuration("fill wait " + fill.toMillis() + " ms",
                        GenerationPipeline.embedded(catalog, new DenoiseLoopOptions(16, fill, 64)), runs));
            }
            // a new prompt every run (the same number of tokens, so the same ONNX Runtime work), so that no run
            // finds its prompt among the tokenizer's recent ones; the empty negative prompt is found, as in service
            java.util.function.IntFunction<GenerationRequest> request = run -> GenerationRequest.builder(
                            "a photo of an astronaut riding a horse, take " + run)
                    .size(size, size).steps(steps).guidance(7.5).seed(1L).scheduler("euler").build();
            ModelPackage pkg = catalog.get(model);
            List<OnnxModel> sessions = List.of(pkg.textEncoder(), pkg.unet(), pkg.vaeDecoder());
            for (int i = 0; i < warmup; i++) {
                for (Configuration c : configurations) {
                    c.pipeline.generate(c.pipeline.resolve(request.apply(-1 - i)), DenoiseProgress.NONE, () -> false);
                }
            }
            configurations.forEach(c -> c.stepNanos.set(0));
            for (int i = 0; i < runs; i++) {
                for (Configuration c : configurations) {
                    GenerationRequest r0 = request.apply(i);
                    long[] before = sessions.stream().mapToLong(OnnxModel::runNanos).toArray();
                    long t0 = System.nanoTime();
                    GenerationSettings settings = c.pipeline.resolve(r0);
                    GenerationResult r = c.pipeline.generate(settings, DenoiseProgress.NONE, () -> false);
                    long e2e = System.nanoTime() - t0;
                    long ort = 0;
                    for (int k = 0; k < 3; k++) {
                        long d = sessions.get(k).runNanos() - before[k];
                        c.stageOrt[k] += d;
                        ort += d;
                    }
                    c.stage[0] += r.encodeNanos();
                    c.stage[1] += r.denoiseNanos();
                    c.stage[2] += r.decodeNanos();
                    c.ratios[i] = (double) e2e / ort;
                    c.e2e += e2e;
                    c.ort += ort;
                }
            }
        } finally {
            configurations.forEach(c -> c.pipeline.close());
        }
        for (Configuration c : configurations) {
            Arrays.sort(c.ratios);
            System.out.printf("%-28s %10.2f %10.2f %8.3f   (median of per-run ratios %.3f)%n",
                    c.name, c.e2e / 1e6 / runs, c.ort / 1e6 / runs, (double) c.e2e / c.ort, c.ratios[runs / 2]);
            System.out.printf("%-28s %10.2f %10.2f %8.3f%n", "  of which UNet batch steps", c.stepNanos.get() / 1e6 / runs,
                    c.stageOrt[1] / 1e6 / runs, (double) c.stepNanos.get() / c.stageOrt[1]);
            String[] names = {"  encode (text encoder)", "  denoise (UNet)", "  decode (VAE decoder, PNG)"};
            for (int k = 0; k < 3; k++) {
                System.out.printf("%-28s %10.2f %10.2f %8.3f%n", names[k], c.stage[k] / 1e6 / runs,
                        c.stageOrt[k] / 1e6 / runs, (double) c.stage[k] / c.stageOrt[k]);
            }
        }
    }
}
