package dev.kiln.bench;

import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.GenerationRequest;
import dev.kiln.pipeline.GenerationResult;
import dev.kiln.pipeline.GenerationSettings;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * End-to-end time of one picture (prompt to PNG: text encoder, UNet steps, decoder, PNG) with the one-step
 * student against the teacher with DPM-Solver++ 20 and DDIM 50, in one process, the configurations taken
 * in turn within every round so that load from elsewhere on the machine falls on all of them alike.
 *
 * <p>Usage: {@code bench/run student [model] [rounds] [threads] [fill-wait-ms]}, defaults emoji-tiny 30 0 0.
 * A fill wait of 0 measures a lone request's latency; the serving default (2 ms) adds that wait to every
 * request that finds the denoiser idle.
 */
public final class StudentSpeed {
    public static void main(String[] args) {
        String model = args.length > 0 ? args[0] : "emoji-tiny";
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        int threads = args.length > 2 ? Integer.parseInt(args[2]) : 0;
        long fillMs = args.length > 3 ? Long.parseLong(args[3]) : 0;
        Path models = Path.of(System.getProperty("kiln.models.dir", "models"));
        String prompt = "grinning face, noto style";
        Map<String, GenerationRequest> configs = new LinkedHashMap<>();
        GenerationRequest.Builder base = GenerationRequest.builder(prompt).model(model).seed(1L);
        configs.put("student 1 step, VAE", base.unet("student").build());
        configs.put("student 1 step, consistency dec.", base.unet("student").decoder("consistency").build());
        configs.put("teacher DPM++ 2M 20, VAE", base.unet("teacher").scheduler("dpmpp_2m").steps(20).decoder(null).build());
        configs.put("teacher DDIM 50, VAE", base.unet("teacher").scheduler("ddim").steps(50).decoder(null).build());

        try (ModelCatalog catalog = ModelCatalog.shipped(models, model, OnnxRuntimeOptions.cpu().withThreads(threads));
             GenerationPipeline pipeline = GenerationPipeline.embedded(catalog,
                     new DenoiseLoopOptions(16, Duration.ofMillis(fillMs), 64))) {
            Map<String, GenerationSettings> settings = new LinkedHashMap<>();
            for (Map.Entry<String, GenerationRequest> e : configs.entrySet()) {
                try {
                    settings.put(e.getKey(), pipeline.resolve(e.getValue()));
                } catch (RuntimeException ex) {
                    System.out.println("skipping " + e.getKey() + ": " + ex.getMessage());
                }
            }
            for (int i = 0; i < 5; i++) {
                settings.values().forEach(s -> pipeline.generate(s, DenoiseProgress.NONE, () -> false));
            }
            Map<String, long[]> times = new LinkedHashMap<>();
            Map<String, long[]> stages = new LinkedHashMap<>();
            settings.keySet().forEach(k -> {
                times.put(k, new long[rounds]);
                stages.put(k, new long[3]);
            });
            for (int r = 0; r < rounds; r++) {
                for (Map.Entry<String, GenerationSettings> e : settings.entrySet()) {
                    long t0 = System.nanoTime();
                    GenerationResult result = pipeline.generate(e.getValue(), DenoiseProgress.NONE, () -> false);
                    times.get(e.getKey())[r] = System.nanoTime() - t0;
                    long[] st = stages.get(e.getKey());
                    st[0] += result.encodeNanos();
                    st[1] += result.denoiseNanos();
                    st[2] += result.decodeNanos();
                }
            }
            GenerationSettings first = settings.values().iterator().next();
            System.out.printf("%nend-to-end time per picture: %s, %dx%d, \"%s\", %d rounds after 5 warm-up rounds, "
                    + "ORT threads %s, fill wait %d ms, %d cores%n", model, first.width(), first.height(), prompt, rounds,
                    threads == 0 ? "auto" : threads, fillMs, Runtime.getRuntime().availableProcessors());
            System.out.printf("%-34s %6s %5s %10s %10s %10s %10s %10s %10s%n", "configuration", "steps", "cfg", "mean ms",
                    "median ms", "× student", "encode ms", "denoise ms", "decode ms");
            double studentMedian = median(times.values().iterator().next());
            for (Map.Entry<String, long[]> e : times.entrySet()) {
                GenerationSettings s = settings.get(e.getKey());
                double mean = Arrays.stream(e.getValue()).average().orElse(0) / 1e6;
                double med = median(e.getValue());
                long[] st = stages.get(e.getKey());
                System.out.printf("%-34s %6d %5s %10.2f %10.2f %10.1f %10.2f %10.2f %10.2f%n", e.getKey(), s.steps(),
                        s.guided() ? Double.toString(s.guidance()) : "off", mean, med, med / studentMedian,
                        st[0] / 1e6 / rounds, st[1] / 1e6 / rounds, st[2] / 1e6 / rounds);
            }
            System.out.println("(× student: median time over the median of the first row; target for the teacher rows >= 25;"
                    + " encode/denoise/decode: mean time in each stage, the decoder's including PNG encoding)");
        }
    }

    private static double median(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return (s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2.0) / 1e6;
    }

    private StudentSpeed() {
    }
}
