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
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/**
 * The pipeline's own cost: end-to-end time of a generation over the summed time of the
 * {@code OrtSession.run} calls it made (text encoder, every UNet step, VAE decoder), on the same runs.
 * A ratio of 1.00 would mean Kiln adds nothing around ONNX Runtime.
 *
 * <p>Usage: {@code bench/run overhead [model] [steps] [runs] [sizes] [threads]}, defaults sd15-tiny-kiln 20 20 64,512 0
 * (0: ONNX Runtime picks the intra-op thread count).
 */
public final class PipelineOverhead {
    public static void main(String[] args) {
        String model = args.length > 0 ? args[0] : "sd15-tiny-kiln";
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 20;
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        String sizes = args.length > 3 ? args[3] : "64,512";
        int threads = args.length > 4 ? Integer.parseInt(args[4]) : 0;
        Path models = Path.of(System.getProperty("kiln.models.dir", "models"));
        for (String sz : sizes.split(",")) {
            run(models, model, steps, runs, Integer.parseInt(sz.trim()), threads);
        }
    }

    private static void run(Path models, String model, int steps, int runs, int size, int threads) {
        System.out.printf("%npipeline overhead: %s, %d steps, %dx%d, guidance 7.5, %d runs (after 5 warm-up runs)%n",
                model, steps, size, size, runs);
        System.out.printf("%-28s %10s %10s %8s%n", "configuration", "e2e ms", "ort ms", "ratio");
        for (Duration fill : List.of(Duration.ZERO, DenoiseLoopOptions.defaults().maxFillWait())) {
            try (ModelCatalog catalog = ModelCatalog.shipped(models, model, OnnxRuntimeOptions.cpu().withThreads(threads));
                 GenerationPipeline pipeline = GenerationPipeline.embedded(catalog,
                         new DenoiseLoopOptions(16, fill, 64))) {
                java.util.concurrent.atomic.AtomicLong stepNanos = new java.util.concurrent.atomic.AtomicLong();
                ((dev.kiln.pipeline.stage.LocalDenoiserStage) pipeline.denoiser())
                        .observe((m, rows, nanos) -> stepNanos.addAndGet(nanos));
                GenerationRequest request = GenerationRequest.builder("a photo of an astronaut riding a horse")
                        .size(size, size).steps(steps).guidance(7.5).seed(1L).scheduler("euler").build();
                GenerationSettings settings = pipeline.resolve(request);
                ModelPackage pkg = catalog.get(model);
                List<OnnxModel> sessions = List.of(pkg.textEncoder(), pkg.unet(), pkg.vaeDecoder());
                for (int i = 0; i < 5; i++) {
                    pipeline.generate(settings, DenoiseProgress.NONE, () -> false);
                }
                double[] ratios = new double[runs];
                long e2eTotal = 0;
                long ortTotal = 0;
                long[] stage = new long[3];
                long[] stageOrt = new long[3];
                stepNanos.set(0);
                for (int i = 0; i < runs; i++) {
                    long[] before = sessions.stream().mapToLong(OnnxModel::runNanos).toArray();
                    long t0 = System.nanoTime();
                    GenerationResult r = pipeline.generate(settings, DenoiseProgress.NONE, () -> false);
                    long e2e = System.nanoTime() - t0;
                    long ort = 0;
                    for (int k = 0; k < 3; k++) {
                        long d = sessions.get(k).runNanos() - before[k];
                        stageOrt[k] += d;
                        ort += d;
                    }
                    stage[0] += r.encodeNanos();
                    stage[1] += r.denoiseNanos();
                    stage[2] += r.decodeNanos();
                    ratios[i] = (double) e2e / ort;
                    e2eTotal += e2e;
                    ortTotal += ort;
                }
                Arrays.sort(ratios);
                System.out.printf("%-28s %10.2f %10.2f %8.3f   (median of per-run ratios %.3f)%n",
                        "fill wait " + fill.toMillis() + " ms", e2eTotal / 1e6 / runs, ortTotal / 1e6 / runs,
                        (double) e2eTotal / ortTotal, ratios[runs / 2]);
                System.out.printf("%-28s %10.2f %10.2f %8.3f%n", "  of which UNet batch steps", stepNanos.get() / 1e6 / runs,
                        stageOrt[1] / 1e6 / runs, (double) stepNanos.get() / stageOrt[1]);
                String[] names = {"  encode (text encoder)", "  denoise (UNet)", "  decode (VAE decoder, PNG)"};
                for (int k = 0; k < 3; k++) {
                    System.out.printf("%-28s %10.2f %10.2f %8.3f%n", names[k], stage[k] / 1e6 / runs,
                            stageOrt[k] / 1e6 / runs, (double) stage[k] / stageOrt[k]);
                }
            }
        }
    }
}
