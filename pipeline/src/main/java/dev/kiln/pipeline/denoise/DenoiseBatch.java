package dev.kiln.pipeline.denoise;

import dev.kiln.pipeline.tensor.FloatTensor;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * Iteration-level batching: the images in flight, and one UNet evaluation at a time over as many of
 * them as fit.
 *
 * <p>Images wait in one line, in the order they came. Each call of {@link #step()} takes the images from
 * the front of the line that are compatible with the first (same latent size and context length, and the
 * same timestep when the export takes only one), up to {@code maxRows} UNet rows, runs the UNet once for
 * all of them at their own timesteps and guidance scales, and advances each by one scheduler step.
 * When the images left out could have joined but found no room, the chosen ones keep their place until
 * they finish, and the next take their rows as they leave, as in continuous batching: the members of
 * consecutive calls stay the same, and the UNet keeps their conditioning in place instead of copying it
 * every step. When some image could not have joined this call at all (another size, or another timestep
 * on an export that takes one), the chosen ones go to the back of the line instead, so groups that cannot
 * share a call take turns rather than wait for each other to finish. Images join and leave only between
 * calls.
 */
public final class DenoiseBatch {
    private final UNet unet;
    private final int maxRows;
    private final List<ImageTrajectory> queue = new ArrayList<>();
    /** Whether the last {@link #choose()} left out an image that could not have joined its call. */
    private boolean apartFromOthers;

    public DenoiseBatch(UNet unet, int maxRows) {
        if (maxRows < 1) {
            throw new IllegalArgumentException("maxRows must be >= 1, was " + maxRows);
        }
        this.unet = unet;
        this.maxRows = maxRows;
    }

    public void add(ImageTrajectory image) {
        if (image.done()) {
            throw new IllegalArgumentException("image has no steps left");
        }
        queue.add(image);
    }

    /** Frees what the UNet keeps between calls; call once the loop has stopped. */
    public void release() {
        unet.release();
    }

    public boolean isEmpty() {
        return queue.isEmpty();
    }

    public int size() {
        return queue.size();
    }

    /** UNet rows the images in flight would take if they all fitted in one call. */
    public int rows() {
        int r = 0;
        for (ImageTrajectory t : queue) {
            r += t.rows();
        }
        return r;
    }

    /** Removes the images matching {@code which} (cancelled or expired requests); returns how many. */
    public int removeIf(Predicate<ImageTrajectory> which) {
        int before = queue.size();
        queue.removeIf(which);
        return before - queue.size();
    }

    /** The outcome of one UNet call. */
    public record Step(List<ImageTrajectory> advanced, List<ImageTrajectory> finished, int rows) {
    }

    /** Runs one UNet evaluation; returns the images it advanced and those that finished. */
    public Step step() {
        if (queue.isEmpty()) {
            return new Step(List.of(), List.of(), 0);
        }
        List<ImageTrajectory> chosen = choose();
        int rows = 0;
        for (ImageTrajectory t : chosen) {
            rows += t.rows();
        }
        long[] latentShape = chosen.get(0).latentShape();
        long[] ctxShape = chosen.get(0).contextShape();

        List<float[]> samples = new ArrayList<>(rows);
        List<float[]> ctxK = new ArrayList<>(rows);
        List<float[]> ctxV = new ArrayList<>(rows);
        double[] timesteps = new double[rows];
        int r = 0;
        // rows are laid out [uncond, cond] per image, as diffusers does, so guided and unguided images mix freely
        for (ImageTrajectory t : chosen) {
            float[] in = t.scaledInput();
            if (t.guided()) {
                samples.add(in);
                ctxK.add(t.uncond());
                ctxV.add(t.uncondV());
                timesteps[r++] = t.timestep();
            }
            samples.add(in);
            ctxK.add(t.cond());
            ctxV.add(t.condV());
            timesteps[r++] = t.timestep();
        }
        float[][] out = unet.predictRows(samples, latentShape, timesteps, ctxK, ctxV, ctxShape);
        List<ImageTrajectory> finished = new ArrayList<>();
        r = 0;
        for (ImageTrajectory t : chosen) {
            float[] uncondOut = t.guided() ? out[r++] : null;
            float[] condOut = out[r++];
            t.advance(condOut, uncondOut);
            if (t.done()) {
                finished.add(t);
            }
        }
        if (apartFromOthers) {
            queue.removeAll(chosen);
            chosen.stream().filter(t -> !t.done()).forEach(queue::add);
        } else if (!finished.isEmpty()) {
            queue.removeIf(ImageTrajectory::done);
        }
        return new Step(chosen, finished, rows);
    }

    /**
     * The front of the line that fits one call with the first image; sets {@link #apartFromOthers} when some
     * image left out could not have shared the call whatever the room.
     */
    private List<ImageTrajectory> choose() {
        ImageTrajectory head = queue.get(0);
        List<ImageTrajectory> chosen = new ArrayList<>();
        chosen.add(head);
        int rows = head.rows();
        apartFromOthers = false;
        for (int i = 1; i < queue.size(); i++) {
            ImageTrajectory t = queue.get(i);
            boolean compatible = t.compatibleWith(head) && (unet.perSampleTimesteps() || t.timestep() == head.timestep());
            if (!compatible) {
                apartFromOthers = true;
            } else if (rows + t.rows() <= maxRows) {
                chosen.add(t);
                rows += t.rows();
            }
        }
        return chosen;
    }
}
