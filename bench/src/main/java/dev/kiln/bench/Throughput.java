package dev.kiln.bench;

import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.GenerationRequest;
import dev.kiln.pipeline.GenerationSettings;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.OnnxRuntimeOptions;
import dev.kiln.pipeline.stage.DecoderStage;
import dev.kiln.pipeline.stage.DenoiserStage;
import dev.kiln.pipeline.stage.EncoderStage;
import dev.kiln.pipeline.stage.LocalDecoderStage;
import dev.kiln.pipeline.stage.LocalDenoiserStage;
import dev.kiln.pipeline.stage.LocalEncoderStage;
import dev.kiln.protocol.client.RemoteStages;
import dev.kiln.protocol.server.StageServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Serving throughput (images/s) and latency (p50/p95 per request) under concurrent load, side by side in one
 * run: no batching (one request at a time in the denoiser, every prompt and picture alone in the text encoder
 * and decoder), request-level batching (requests batched whole, none joins a running batch), iteration-level
 * batching (requests join and leave between UNet calls), these two with concurrent requests sharing text encoder
 * and decoder calls as the stages do by default, each embedded, and
 * iteration-level batching with the stages behind gRPC on loopback (the distributed wiring), once for
 * callers that watch no progress (synchronous requests) and once with a listener on every step (jobs).
 *
 * <p>Load is closed-loop: {@code c} clients each send their next request as soon as the last one is
 * answered; every request has its own seed.
 *
 * <p>Usage: {@code bench/run throughput [model] [size] [steps] [rounds] [max-rows] [passes] [concurrency] [threads] [warm-up]},
 * defaults sd15-tiny-diffusers 64 20 3 16 3 1,4,16,32 0 1000 (threads: ONNX Runtime's intra-op threads per session, 0
 * lets it choose). Every configuration is first warmed up with {@code warm-up} one-step requests and 16 full
 * ones (4 clients; in every child JVM when isolated, where each concurrency is also preceded by rounds of full
 * requests until the JIT is quiet, {@link #untilTheJitIsQuiet}), then measured once per pass, the passes interleaving
 * them; each cell of the table is the median of its passes. A client sends {@code rounds} requests at concurrency 16 and 32 and
 * proportionally more at lower ones, so every cell serves at least 16 requests. The table goes to stdout and
 * is appended to {@code bench/results/throughput-<date>.txt}.
 *
 * <p>By default every (configuration, pass) runs in a JVM of its own, started by this one with the same java,
 * classpath and JVM options, warmed up there before it measures and reporting its cells on stdout
 * ({@link Sample}); the passes still interleave the configurations. This is the fairer measurement: in one JVM,
 * switching between wirings keeps the JIT recompiling and deoptimising, and the gRPC cells paid for it (a profile
 * showed compiling in every cell even after 1000 warm-up requests). {@code -Dkiln.bench.isolate=false} runs them
 * all in this one JVM, warming each up once, as before.
 *
 * <p>With {@code -Dkiln.bench.baseline=<kiln-protocol jar>} (another build's, e.g. main's) the gRPC wiring of
 * that build runs as one more configuration: a change to {@code protocol} measured before and after in one
 * run ({@link BaselineProtocol}).
 */
public final class Throughput {
    static final int[] CONCURRENCY = {1, 4, 16, 32};
    /** The concurrency levels measured in this run (all of {@link #CONCURRENCY} unless narrowed on the command line). */
    static int[] levels = CONCURRENCY;

    record Cell(double imagesPerSecond, double p50Ms, double p95Ms, double meanRows, double unetMsPerCall,
                double unetBusy, double cpuMsPerImage, double picturesPerDecode, int requests) {
    }

    /** CPU time of this whole process (every thread, ONNX Runtime's included). */
    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /**
     * A pipeline under test, the progress listener its requests carry, the UNet calls and rows its denoiser
     * made, the calls and pictures of its decoder, and what closes it.
     */
    record Wiring(GenerationPipeline pipeline, DenoiseProgress progress, AtomicLong calls, AtomicLong rows,
                  AtomicLong unetNanos, AtomicLong decodes, AtomicLong pictures, Runnable closer) implements AutoCloseable {
        @Override
        public void close() {
            closer.run();
        }
    }

    public static void main(String[] args) throws Exception {
        String model = args.length > 0 ? args[0] : "sd15-tiny-diffusers";
        int size = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        int maxRows = args.length > 4 ? Integer.parseInt(args[4]) : 16;
        int passes = args.length > 5 ? Integer.parseInt(args[5]) : 3;
        if (args.length > 6) {
            levels = java.util.Arrays.stream(args[6].split(",")).mapToInt(c -> Integer.parseInt(c.trim())).toArray();
        }
        OnnxRuntimeOptions runtime = OnnxRuntimeOptions.cpu().withThreads(args.length > 7 ? Integer.parseInt(args[7]) : 0);
        int warmUp = args.length > 8 ? Integer.parseInt(args[8]) : 1000;
        Path models = Path.of(System.getProperty("kiln.models.dir", "models"));
        Path results = Path.of(System.getProperty("kiln.bench.results", "bench/results"));

        GenerationRequest template = GenerationRequest.builder("a photo of an astronaut riding a horse")
                .model(model).size(size, size).steps(steps).guidance(7.5).scheduler("euler").build();
        int rowsOfOne = 2; // one guided image: [uncond, cond]
        Duration fill = Duration.ofMillis(2);
        Map<String, Function<ModelCatalog, Wiring>> wirings = new LinkedHashMap<>();
        wirings.put("no batching (embedded)", c -> embedded(c,
                new DenoiseLoopOptions(rowsOfOne, Duration.ZERO, 1024, DenoiseLoopOptions.Batching.REQUEST), false));
        wirings.put("request-level (embedded)", c -> embedded(c,
                new DenoiseLoopOptions(maxRows, fill, 1024, DenoiseLoopOptions.Batching.REQUEST)));
        wirings.put("iteration-level (embedded)", c -> embedded(c,
                new DenoiseLoopOptions(maxRows, fill, 1024, DenoiseLoopOptions.Batching.ITERATION)));
        wirings.put("iteration-level (gRPC)", c -> distributed(c,
                new DenoiseLoopOptions(maxRows, fill, 1024, DenoiseLoopOptions.Batching.ITERATION), DenoiseProgress.NONE));
        // a listener that watches the steps, as jobs have, makes the denoiser stream an event per step
        DenoiseProgress watching = (step, total, latents) -> { };
        wirings.put("iteration-level (gRPC, steps)", c -> distributed(c,
                new DenoiseLoopOptions(maxRows, fill, 1024, DenoiseLoopOptions.Batching.ITERATION), watching));
        String baseline = System.getProperty("kiln.bench.baseline");
        if (baseline != null) {
            // another build's protocol classes beside this one's: before and after measured in one run
            wirings.put("iteration-level (gRPC, baseline)", c -> distributed(c,
                    new DenoiseLoopOptions(maxRows, fill, 1024, DenoiseLoopOptions.Batching.ITERATION),
                    DenoiseProgress.NONE, new BaselineProtocol(Path.of(baseline))));
        }

        String cellOf = System.getProperty(CHILD);
        if (cellOf != null) {
            measureInThisJvm(cellOf, wirings.get(cellOf), models, model, runtime, template, rounds, warmUp);
            return;
        }
        boolean isolate = Boolean.parseBoolean(System.getProperty("kiln.bench.isolate", "true"));

        StringBuilder out = new StringBuilder();
        String title = String.format("throughput: %s, %dx%d, %d steps euler, guidance 7.5, n=1 per request, max rows %d, "
                        + "fill wait %d ms, closed loop, %d cores, %s intra-op threads, %s; each cell the median (by images/s) "
                        + "of %d interleaved passes, after %d one-step and 16 full warm-up requests per configuration, "
                        + "then before each concurrency rounds of full ones at it until the JIT compiled for under 3%% "
                        + "of a core in two rounds in a row%s%n", model, size, size, steps,
                maxRows, fill.toMillis(), Runtime.getRuntime().availableProcessors(),
                runtime.intraOpThreads() == 0 ? "default" : String.valueOf(runtime.intraOpThreads()), LocalDate.now(),
                passes, warmUp, isolate ? " (in each JVM)\n" + "every configuration's passes ran in JVMs of their own, "
                        + "one per configuration and pass, each warmed up before it measured: no JIT work of one wiring "
                        + "falls on another" : "\nall configurations ran in this one JVM");
        System.out.print(title);
        out.append(title);
        Map<String, Map<Integer, List<Cell>>> samples = new LinkedHashMap<>();
        wirings.keySet().forEach(name -> samples.put(name, new LinkedHashMap<>()));
        if (isolate) {
            // passes interleave the configurations, so drifting load from other processes hits them alike
            for (int pass = 0; pass < passes; pass++) {
                for (String name : wirings.keySet()) {
                    for (Sample s : inChildJvm(name, args)) {
                        samples.get(name).computeIfAbsent(s.concurrency(), k -> new ArrayList<>()).add(s.cell());
                        System.out.printf("  pass %d  %-32s c=%-3d %s%n", pass + 1, name, s.concurrency(), s.cell());
                    }
                }
            }
        } else {
            try (ModelCatalog catalog = ModelCatalog.shipped(models, model, runtime)) {
                catalog.get(model);
                Map<String, Wiring> open = new LinkedHashMap<>();
                try {
                    for (var w : wirings.entrySet()) {
                        Wiring wiring = w.getValue().apply(catalog);
                        open.put(w.getKey(), wiring);
                        warmUp(wiring, template, warmUp);
                    }
                    // passes interleave the configurations, so drifting load from other processes hits them alike
                    for (int pass = 0; pass < passes; pass++) {
                        for (int c : levels) {
                            for (var w : open.entrySet()) {
                                Cell cell = run(w.getValue(), template, c, perClient(rounds, c), new AtomicLong(c * 10_000L));
                                samples.get(w.getKey()).computeIfAbsent(c, k -> new ArrayList<>()).add(cell);
                                System.out.printf("  pass %d  %-32s c=%-3d %s%n", pass + 1, w.getKey(), c, cell);
                            }
                        }
                    }
                } finally {
                    open.values().forEach(Wiring::close);
                }
            }
        }
        Map<String, Map<Integer, Cell>> table = new LinkedHashMap<>();
        samples.forEach((name, byC) -> {
            Map<Integer, Cell> row = new LinkedHashMap<>();
            byC.forEach((c, cells) -> {
                List<Cell> sorted = new ArrayList<>(cells);
                sorted.sort(java.util.Comparator.comparingDouble(Cell::imagesPerSecond));
                row.put(c, sorted.get(sorted.size() / 2));
            });
            table.put(name, row);
        });
        String formatted = format(table);
        System.out.print(formatted);
        out.append(formatted);
        try (ModelCatalog catalog = ModelCatalog.shipped(models, model, runtime)) {
            String profile = UNetScaling.profile(catalog.get(model), size, 15);
            System.out.print(profile);
            out.append(profile);
        }
        Files.createDirectories(results);
        Path file = results.resolve("throughput-" + LocalDate.now() + ".txt");
        try {
            // several runs a day (other sizes, models) collect in the day's file
            Files.writeString(file, (Files.exists(file) ? "\n\n" : "") + out, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        System.out.println("written to " + file);
    }

    /** The system property that makes a JVM a child measuring the one configuration it names. */
    static final String CHILD = "kiln.bench.child";

    /** A cell as a child JVM reports it to its parent: one line on stdout. */
    record Sample(String configuration, int concurrency, Cell cell) {
        static final String TAG = "kiln-bench-cell";

        String line() {
            return String.join("\t", TAG, configuration, Integer.toString(concurrency),
                    Double.toString(cell.imagesPerSecond()), Double.toString(cell.p50Ms()), Double.toString(cell.p95Ms()),
                    Double.toString(cell.meanRows()), Double.toString(cell.unetMsPerCall()),
                    Double.toString(cell.unetBusy()), Double.toString(cell.cpuMsPerImage()),
                    Double.toString(cell.picturesPerDecode()), Integer.toString(cell.requests()));
        }

        /** The sample on {@code line}, or null where the line is the child's other output. */
        static Sample parse(String line) {
            String[] f = line.split("\t");
            if (f.length != 12 || !f[0].equals(TAG)) {
                return null;
            }
            return new Sample(f[1], Integer.parseInt(f[2]), new Cell(Double.parseDouble(f[3]), Double.parseDouble(f[4]),
                    Double.parseDouble(f[5]), Double.parseDouble(f[6]), Double.parseDouble(f[7]), Double.parseDouble(f[8]),
                    Double.parseDouble(f[9]), Double.parseDouble(f[10]), Integer.parseInt(f[11])));
        }
    }

    /** Requests per client at concurrency {@code c}: {@code rounds}, or more, so every cell serves at least 16. */
    static int perClient(int rounds, int c) {
        return Math.max(rounds, (16 + c - 1) / c);
    }

    /**
     * Sessions, channels, and the JIT, which takes thousands of calls to settle on the gRPC path's Netty and
     * protobuf code; before it does, compiling dominates that wiring's CPU time. {@code requests} one-step
     * requests go through every stage and every call of both wirings as often as full ones would, at a fraction
     * of the time (at 256×256 a 20-step warm-up of 1000 requests took minutes and still left the gRPC cells
     * compiling); 16 full requests then settle the shapes of the full batches.
     */
    static void warmUp(Wiring wiring, GenerationRequest template, int requests) throws Exception {
        run(wiring, template.toBuilder().steps(1).build(), 4, Math.max(1, requests / 4), new AtomicLong(1_000_000));
        run(wiring, template, 4, 4, new AtomicLong(2_000_000));
    }

    /** Compiling may take at most this share of one core, over each of two windows in a row, for the JIT to count as quiet. */
    static final double QUIET_JIT_SHARE = 0.03;
    /**
     * The shortest window the JIT's share is judged over. It compiles in bursts: after two quiet rounds of 32
     * requests (a quarter of a second each) the gRPC wiring's compiler threads still took 15%, 7%, 6%, 0%, 3% and
     * 6% of a core in the next six 5-second spans, within the cells being measured.
     */
    static final long JIT_WINDOW_NANOS = 3_000_000_000L;
    /** A wiring still compiling after this long is measured anyway (and says so). */
    static final long JIT_WARM_UP_LIMIT_NANOS = 120_000_000_000L;

    /**
     * Rounds of full requests at the concurrency about to be measured until the JIT compiles for less than
     * {@link #QUIET_JIT_SHARE} of a core in two windows of {@link #JIT_WINDOW_NANOS} in a row. The gRPC wiring runs four services' worth of
     * code in one JVM; after the one-step warm-up its C1 and C2 queues were still busy in the measured seconds
     * (8 000 compilations, 1 900 of them in the two seconds before; C2 a quarter of a core at c=1), taking a
     * 2-core machine's time from the UNet (4.8 ms per call against 3.8 embedded at c=16), and how much was
     * left varied from run to run (gRPC c=1 cells of 42-58 images/s). A server runs for hours; this measures
     * it as it then is. Each concurrency gets its own rounds because each takes paths the others did not.
     * Compiling is measured as the compiler threads' own CPU time ({@link JitActivity}).
     */
    static void untilTheJitIsQuiet(Wiring wiring, GenerationRequest template, int clients) throws Exception {
        JitActivity jit = new JitActivity();
        if (!jit.available()) {
            return;
        }
        int perClient = Math.max(2, 32 / clients);
        long start = System.nanoTime();
        int rounds = 0;
        int quiet = 0;
        double share;
        do {
            jit.nanosSinceLast();
            long t0 = System.nanoTime();
            do {
                run(wiring, template, clients, perClient, new AtomicLong(3_000_000 + 1000L * rounds++));
            } while (System.nanoTime() - t0 < JIT_WINDOW_NANOS);
            share = (double) jit.nanosSinceLast() / (System.nanoTime() - t0);
            quiet = share < QUIET_JIT_SHARE ? quiet + 1 : 0;
        } while (quiet < 2 && System.nanoTime() - start < JIT_WARM_UP_LIMIT_NANOS);
        System.err.printf("warm-up at c=%d: %d rounds of %d full requests until the JIT compiled for %.1f%% of a core"
                        + " (%s, %.0f s)%s%n", clients, rounds, clients * perClient, 100 * share, jit.source(),
                (System.nanoTime() - start) / 1e9, quiet < 2 ? ", still compiling: measured anyway" : "");
    }

    /** The child's side: warms one configuration up, measures it at every level, and prints the samples. */
    static void measureInThisJvm(String name, Function<ModelCatalog, Wiring> wirer, Path models, String model,
                                 OnnxRuntimeOptions runtime, GenerationRequest template, int rounds,
                                 int warmUp) throws Exception {
        if (wirer == null) {
            throw new IllegalArgumentException("no configuration named '" + name + "'");
        }
        try (ModelCatalog catalog = ModelCatalog.shipped(models, model, runtime)) {
            catalog.get(model);
            try (Wiring wiring = wirer.apply(catalog)) {
                warmUp(wiring, template, warmUp);
                for (int c : levels) {
                    untilTheJitIsQuiet(wiring, template, c);
                    Cell cell = run(wiring, template, c, perClient(rounds, c), new AtomicLong(c * 10_000L));
                    System.out.println(new Sample(name, c, cell).line());
                }
            }
        }
    }

    /**
     * Runs configuration {@code name} in a JVM of its own (this one's java, classpath and JVM options, so
     * {@code -D} properties such as the baseline jar carry over) and gives the cells it reports.
     */
    static List<Sample> inChildJvm(String name, String[] args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.add("-D" + CHILD + "=" + name);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(Throughput.class.getName());
        command.addAll(List.of(args));
        Process child = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        List<Sample> samples = new ArrayList<>();
        try (var lines = new java.io.BufferedReader(new java.io.InputStreamReader(child.getInputStream(),
                java.nio.charset.StandardCharsets.UTF_8))) {
            for (String line; (line = lines.readLine()) != null; ) {
                Sample s = Sample.parse(line);
                if (s != null) {
                    samples.add(s);
                }
            }
        }
        int exit = child.waitFor();
        if (exit != 0 || samples.size() != levels.length) {
            throw new IllegalStateException("the JVM measuring '" + name + "' exited with " + exit + " after reporting "
                    + samples.size() + " of " + levels.length + " cells");
        }
        return samples;
    }

    static Wiring embedded(ModelCatalog catalog, DenoiseLoopOptions options) {
        return embedded(catalog, options, true);
    }

    /**
     * @param shareStageCalls whether concurrent requests share text encoder and decoder calls (as the stages do by
     *                        default); the no-batching configuration runs each prompt and picture alone
     */
    static Wiring embedded(ModelCatalog catalog, DenoiseLoopOptions options, boolean shareStageCalls) {
        GenerationPipeline p = shareStageCalls ? GenerationPipeline.embedded(catalog, options)
                : GenerationPipeline.embedded(catalog, options, 1, 1);
        return counted(p, DenoiseProgress.NONE, (LocalDenoiserStage) p.denoiser(), (LocalDecoderStage) p.decoder(), p::close);
    }

    /** The wiring of {@code pipeline}, counting the UNet calls of {@code denoiser} and the calls of {@code decoder}. */
    static Wiring counted(GenerationPipeline pipeline, DenoiseProgress progress, LocalDenoiserStage denoiser,
                          LocalDecoderStage decoder, Runnable closer) {
        AtomicLong calls = new AtomicLong();
        AtomicLong rows = new AtomicLong();
        AtomicLong nanos = new AtomicLong();
        denoiser.observe((m, r, n) -> {
            rows.addAndGet(r);
            calls.incrementAndGet();
            nanos.addAndGet(n);
        });
        AtomicLong decodes = new AtomicLong();
        AtomicLong pictures = new AtomicLong();
        decoder.observe((m, n) -> {
            decodes.incrementAndGet();
            pictures.addAndGet(n);
        });
        return new Wiring(pipeline, progress, calls, rows, nanos, decodes, pictures, closer);
    }

    static Wiring distributed(ModelCatalog catalog, DenoiseLoopOptions options, DenoiseProgress progress) {
        return distributed(catalog, options, progress, Throughput::thisBuild);
    }

    /** In-process stages served over gRPC on loopback, and a pipeline calling them, of some build of {@code protocol}. */
    @FunctionalInterface
    interface GrpcWiring {
        /** Serves the stages, connects a pipeline to them, and gives it with what closes servers and clients. */
        Map.Entry<GenerationPipeline, AutoCloseable> wire(ModelCatalog catalog, EncoderStage encoder,
                                                         DenoiserStage denoiser, DecoderStage decoder) throws Exception;
    }

    static Map.Entry<GenerationPipeline, AutoCloseable> thisBuild(ModelCatalog catalog, EncoderStage encoder,
                                                                  DenoiserStage denoiser, DecoderStage decoder) {
        StageServer enc = StageServer.start(0, encoder, null, null);
        StageServer den = StageServer.start(0, null, denoiser, null);
        StageServer dec = StageServer.start(0, null, null, decoder);
        RemoteStages remote = new RemoteStages(enc.address(), den.address(), dec.address(), Duration.ofMinutes(5));
        return Map.entry(remote.pipeline(catalog), () -> {
            remote.close();
            enc.close();
            den.close();
            dec.close();
        });
    }

    static Wiring distributed(ModelCatalog catalog, DenoiseLoopOptions options, DenoiseProgress progress,
                              GrpcWiring grpc) {
        LocalEncoderStage encoder = new LocalEncoderStage(catalog);
        LocalDenoiserStage denoiser = new LocalDenoiserStage(catalog, options);
        LocalDecoderStage decoder = new LocalDecoderStage(catalog);
        Map.Entry<GenerationPipeline, AutoCloseable> wired;
        try {
            wired = grpc.wire(catalog, encoder, denoiser, decoder);
        } catch (Exception e) {
            throw new IllegalStateException("cannot wire the stages over gRPC: " + e, e);
        }
        return counted(wired.getKey(), progress, denoiser, decoder, () -> {
            try {
                wired.getValue().close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            denoiser.close();
            encoder.close();
        });
    }

    /** {@code clients} closed-loop clients, {@code perClient} requests each. */
    static Cell run(Wiring wiring, GenerationRequest template, int clients, int perClient,
                    AtomicLong seeds) throws Exception {
        GenerationPipeline pipeline = wiring.pipeline();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        long[] latencies = new long[clients * perClient];
        AtomicInteger next = new AtomicInteger();
        long calls0 = wiring.calls().get();
        long rows0 = wiring.rows().get();
        long nanos0 = wiring.unetNanos().get();
        long decodes0 = wiring.decodes().get();
        long pictures0 = wiring.pictures().get();
        long cpu0 = processCpuNanos();
        long t0 = System.nanoTime();
        try {
            List<Future<?>> all = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                all.add(pool.submit(() -> {
                    for (int i = 0; i < perClient; i++) {
                        GenerationSettings s = pipeline.resolve(template.toBuilder().seed(seeds.getAndIncrement()).build());
                        long start = System.nanoTime();
                        pipeline.generate(s, wiring.progress(), () -> false);
                        latencies[next.getAndIncrement()] = System.nanoTime() - start;
                    }
                    return null;
                }));
            }
            for (Future<?> f : all) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        long wall = System.nanoTime() - t0;
        long cpu = processCpuNanos() - cpu0;
        Arrays.sort(latencies);
        int n = latencies.length;
        long calls = wiring.calls().get() - calls0;
        double meanRows = calls == 0 ? 0 : (double) (wiring.rows().get() - rows0) / calls;
        long unet = wiring.unetNanos().get() - nanos0;
        long decodes = wiring.decodes().get() - decodes0;
        double picturesPerDecode = decodes == 0 ? 0 : (double) (wiring.pictures().get() - pictures0) / decodes;
        return new Cell(n / (wall / 1e9), latencies[(n - 1) / 2] / 1e6, latencies[(int) Math.ceil(0.95 * n) - 1] / 1e6,
                meanRows, calls == 0 ? 0 : unet / 1e6 / calls, (double) unet / wall, cpu / 1e6 / n, picturesPerDecode, n);
    }

    /** One table of the report: a header of the concurrency levels, then a row per configuration. */
    private static void section(StringBuilder b, Map<String, Map<Integer, Cell>> table, String title, int width,
                                Function<Cell, String> value) {
        b.append(String.format("%n%-32s", title));
        for (int c : levels) {
            b.append(String.format("%" + width + "s", "c=" + c));
        }
        b.append('\n');
        table.forEach((name, row) -> {
            b.append(String.format("%-32s", name));
            row.values().forEach(cell -> b.append(String.format("%" + width + "s", value.apply(cell))));
            b.append('\n');
        });
    }

    static String format(Map<String, Map<Integer, Cell>> table) {
        StringBuilder b = new StringBuilder();
        section(b, table, "images/s", 12, cell -> String.format("%.2f", cell.imagesPerSecond()));
        section(b, table, "latency p50 / p95 ms", 16, cell -> String.format("%.0f / %.0f", cell.p50Ms(), cell.p95Ms()));
        section(b, table, "mean UNet rows per call", 12, cell -> String.format("%.1f", cell.meanRows()));
        section(b, table, "UNet ms per call (busy %)", 16,
                cell -> String.format("%.2f (%.0f%%)", cell.unetMsPerCall(), 100 * cell.unetBusy()));
        section(b, table, "CPU ms per image", 12, cell -> String.format("%.1f", cell.cpuMsPerImage()));
        section(b, table, "mean pictures per decoder call", 12, cell -> String.format("%.2f", cell.picturesPerDecode()));
        Map<Integer, Cell> none = table.get("no batching (embedded)");
        Map<Integer, Cell> iter = table.get("iteration-level (embedded)");
        b.append(String.format("%n%-32s", "ratios"));
        for (int c : levels) {
            b.append(String.format("%12s", "c=" + c));
        }
        b.append('\n');
        b.append(String.format("%-32s", "iteration / no batching"));
        for (int c : levels) {
            b.append(String.format("%12.2f", iter.get(c).imagesPerSecond() / none.get(c).imagesPerSecond()));
        }
        b.append('\n');
        grpcRatios(b, table, iter, Cell::imagesPerSecond, false);
        b.append("by CPU time per image (robust to other processes on the machine):\n");
        b.append(String.format("%-32s", "iteration / no batching"));
        for (int c : levels) {
            b.append(String.format("%12.2f", none.get(c).cpuMsPerImage() / iter.get(c).cpuMsPerImage()));
        }
        b.append('\n');
        grpcRatios(b, table, iter, Cell::cpuMsPerImage, true);
        return b.toString();
    }

    /** A ratio row for every gRPC wiring against the embedded one, each side's value from {@code value}. */
    private static void grpcRatios(StringBuilder b, Map<String, Map<Integer, Cell>> table, Map<Integer, Cell> embedded,
                                   java.util.function.ToDoubleFunction<Cell> value, boolean lowerIsBetter) {
        table.forEach((name, row) -> {
            if (!name.startsWith("iteration-level (gRPC")) {
                return;
            }
            String label = name.equals("iteration-level (gRPC)") ? "gRPC / embedded (iteration)"
                    : name.substring("iteration-level (".length(), name.length() - 1) + " / embedded";
            b.append(String.format("%-32s", label));
            for (int c : levels) {
                double g = value.applyAsDouble(row.get(c));
                double e = value.applyAsDouble(embedded.get(c));
                b.append(String.format("%12.2f", lowerIsBetter ? e / g : g / e));
            }
            b.append('\n');
        });
    }
}
