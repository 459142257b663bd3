package dev.kiln.pipeline.stage;

import dev.kiln.pipeline.denoise.DenoiseLoop;
import dev.kiln.pipeline.denoise.DenoiseLoopOptions;
import dev.kiln.pipeline.denoise.DenoiseProgress;
import dev.kiln.pipeline.denoise.ImageTrajectory;
import dev.kiln.pipeline.denoise.UNet;
import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.model.ConditioningLayout;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.model.ModelPackage;
import dev.kiln.pipeline.model.UNetRole;
import dev.kiln.pipeline.noise.NoiseSource;
import dev.kiln.pipeline.scheduler.SamplingRun;
import dev.kiln.pipeline.scheduler.Scheduler;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;

/**
 * The denoiser stage in this process: one {@link DenoiseLoop} per model, so every request for a model
 * shares its UNet calls with the others in flight.
 */
public final class LocalDenoiserStage implements DenoiserStage, AutoCloseable {
    private final ModelCatalog catalog;
    private final DenoiseLoopOptions options;
    private final Map<String, DenoiseLoop> loops = new ConcurrentHashMap<>();
    private volatile UNetCallObserver observer;

    /** Told after each UNet call of any model's loop: the model, the call's rows and its duration. */
    @FunctionalInterface
    public interface UNetCallObserver {
        void onCall(String model, int rows, long nanos);
    }

    public LocalDenoiserStage(ModelCatalog catalog, DenoiseLoopOptions options) {
        this.catalog = catalog;
        this.options = options;
    }

    /** Told about every UNet call of every model's loop (for metrics and benchmarks). */
    public void observe(UNetCallObserver observer) {
        this.observer = observer;
        loops.forEach((model, l) -> l.observe((rows, nanos) -> observer.onCall(model, rows, nanos)));
    }

    public DenoiseLoopOptions options() {
        return options;
    }

    @Override
    public CompletableFuture<List<float[]>> denoise(DenoiseSpec spec, DenoiseProgress progress, BooleanSupplier cancelled) {
        ModelPackage pkg = catalog.get(spec.model());
        UNetRole role = role(pkg, spec);
        return loop(pkg, role).submit(trajectories(pkg, spec), progress, cancelled);
    }

    /** Waits for the result, the calling thread running the UNet calls while no other request is in flight. */
    @Override
    public List<float[]> denoiseAndWait(DenoiseSpec spec, DenoiseProgress progress, BooleanSupplier cancelled)
            throws InterruptedException, ExecutionException {
        ModelPackage pkg = catalog.get(spec.model());
        UNetRole role = role(pkg, spec);
        return loop(pkg, role).run(trajectories(pkg, spec), progress, cancelled);
    }

    private static UNetRole role(ModelPackage pkg, DenoiseSpec spec) {
        return UNetRole.parse(spec.unet()).filter(pkg.roles()::contains)
                .orElseThrow(() -> new InvalidRequestException("unet", "model " + pkg.id() + " has no UNet '"
                        + spec.unet() + "'; it offers: " + pkg.roles().stream().map(UNetRole::id).toList()));
    }

    private static List<ImageTrajectory> trajectories(ModelPackage pkg, DenoiseSpec spec) {
        ConditioningLayout layout = pkg.layout();
        Scheduler scheduler;
        try {
            scheduler = pkg.scheduler(spec.scheduler());
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException("scheduler", e.getMessage());
        }
        if (spec.width() % layout.latentFactor() != 0 || spec.height() % layout.latentFactor() != 0) {
            throw new InvalidRequestException("size", "width and height must be multiples of " + layout.latentFactor());
        }
        long[] latentShape = {layout.latentChannels(), spec.height() / layout.latentFactor(),
                spec.width() / layout.latentFactor()};
        int n = Math.toIntExact(latentShape[0] * latentShape[1] * latentShape[2]);
        Conditioning c = spec.conditioning();
        List<ImageTrajectory> images = new ArrayList<>(spec.count());
        for (int i = 0; i < spec.count(); i++) {
            SamplingRun run;
            try {
                run = scheduler.start(spec.steps());
            } catch (IllegalArgumentException e) {
                throw new InvalidRequestException("steps", e.getMessage());
            }
            NoiseSource noise = new NoiseSource(spec.seeds()[i], 0);
            float[] initial = noise.gaussian(0, n);
            int first = 0;
            float[] latents;
            if (spec.initLatents() != null) {
                float[] init = spec.initLatents()[i];
                if (init.length != n) {
                    throw new InvalidRequestException("image", "init latent has " + init.length + " values; "
                            + spec.width() + "x" + spec.height() + " needs " + n);
                }
                first = run.startIndexForStrength(spec.strength());
                if (first >= run.timesteps().length) {
                    throw new InvalidRequestException("strength", "strength " + spec.strength() + " leaves no step to run at "
                            + spec.steps() + " steps; raise strength or steps");
                }
                latents = run.addNoise(init, initial, first);
            } else {
                float sigma = (float) run.initNoiseSigma();
                latents = initial;
                for (int k = 0; k < n; k++) {
                    latents[k] *= sigma;
                }
            }
            images.add(new ImageTrajectory(noise, run, latents, latentShape, c.contextShape(), c.cond(), c.condV(),
                    c.uncond(), c.uncondV(), spec.guidance(), first));
        }
        return images;
    }

    /** One loop per model and UNet: rows of the teacher and of the student cannot share a session call. */
    private DenoiseLoop loop(ModelPackage pkg, UNetRole role) {
        String name = role == UNetRole.TEACHER ? pkg.id() : pkg.id() + "-" + role.id();
        return loops.computeIfAbsent(name, n -> {
            String id = pkg.id();
            DenoiseLoop l = new DenoiseLoop(new UNet(pkg.unet(role)), options, n);
            UNetCallObserver o = observer;
            if (o != null) {
                l.observe((rows, nanos) -> o.onCall(id, rows, nanos));
            }
            return l;
        });
    }

    @Override
    public int queueDepth() {
        return loops.values().stream().mapToInt(DenoiseLoop::queueDepth).sum();
    }

    @Override
    public void close() {
        loops.values().forEach(DenoiseLoop::close);
        loops.clear();
    }
}
