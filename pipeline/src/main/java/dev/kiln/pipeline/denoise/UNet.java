package dev.kiln.pipeline.denoise;

import ai.onnxruntime.OnnxTensor;
import dev.kiln.pipeline.error.ModelLoadException;
import dev.kiln.pipeline.model.OnnxModel;
import dev.kiln.pipeline.model.PinnedTensor;
import dev.kiln.pipeline.model.TensorSpec;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The noise-prediction network of a package, adapted to every export flavour.
 *
 * <p>{@code timestep} may be float [B], int64 [B] or a rank-0 float; a rank-0 timestep cannot give each
 * batch row its own step, which {@link #perSampleTimesteps()} tells the batcher. Kiln's own exports take
 * the cross-attention values from a second context input, {@code encoder_hidden_states_v} (the point
 * where hypernetworks act); stock exports take both from {@code encoder_hidden_states}.
 */
public final class UNet {
    static final String SAMPLE = "sample";
    static final String TIMESTEP = "timestep";
    static final String CONTEXT = "encoder_hidden_states";
    static final String CONTEXT_V = "encoder_hidden_states_v";
    private static final int MAX_SHAPES = 4;

    private final OnnxModel model;
    private final boolean perSampleTimesteps;
    private final String output;
    /** Pinned memory per latent and context shape, least recently used first; a few sizes at most. */
    private final Map<ShapeKey, Buffers> buffers = new LinkedHashMap<>(8, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<ShapeKey, Buffers> eldest) {
            if (size() > MAX_SHAPES) {
                eldest.getValue().close();
                return true;
            }
            return false;
        }
    };

    public UNet(OnnxModel model) {
        this.model = model;
        model.input(SAMPLE);
        model.input(CONTEXT);
        TensorSpec t = model.input(TIMESTEP);
        if (t.rank() > 1) {
            throw new ModelLoadException(model.label() + ": timestep input has rank " + t.rank()
                    + "; expected a scalar or a [batch] vector");
        }
        this.perSampleTimesteps = t.rank() == 1;
        this.output = model.outputs().containsKey("out_sample") ? "out_sample" : model.outputs().keySet().iterator().next();
    }

    public OnnxModel model() {
        return model;
    }

    /** Whether each batch row may be at its own timestep (false for rank-0 timestep exports). */
    public boolean perSampleTimesteps() {
        return perSampleTimesteps;
    }

    /** Whether the export takes the cross-attention values from their own context input. */
    public boolean separateValueContext() {
        return model.hasInput(CONTEXT_V);
    }

    /**
     * Predicts the model output for a batch.
     *
     * <p>Not thread-safe: one denoise loop owns a UNet. See {@link #predictRows} for what it keeps between calls.
     *
     * @param sample       [B, C, h, w], already scaled by the scheduler
     * @param timesteps    B timesteps; all equal when {@link #perSampleTimesteps()} is false
     * @param contextK     B conditioning rows [L·D] for the keys (and the values on stock exports)
     * @param contextV     B conditioning rows for the values, used only by exports that take them
     * @param contextShape [L, D]
     */
    public FloatTensor predict(FloatTensor sample, double[] timesteps, List<float[]> contextK, List<float[]> contextV,
                               long[] contextShape) {
        int b = sample.batch();
        List<float[]> rows = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            rows.add(sample.itemData(i));
        }
        long[] latentShape = Arrays.copyOfRange(sample.shape(), 1, sample.shape().length);
        float[][] out = predictRows(rows, latentShape, timesteps, contextK, contextV, contextShape);
        return FloatTensor.stack(Arrays.asList(out), latentShape);
    }

    /**
     * Predicts the model output for a batch given as rows, one output array per row.
     *
     * <p>Not thread-safe: one denoise loop owns a UNet. Inputs and output live in native memory kept from call
     * to call (per latent and context shape), and a conditioning row already in that memory from an earlier
     * call is not copied again: copying [B, 77, 768] contexts every step costs more than a small UNet's whole
     * evaluation. To find them, a row may be evaluated at another position of the batch than it was given
     * at; outputs come back in the order given, and a row's output does not depend on its position.
     *
     * @param samples      B rows [C·h·w], already scaled by the scheduler (the same array may appear twice)
     * @param latentShape  [C, h, w]
     * @param timesteps    B timesteps; all equal when {@link #perSampleTimesteps()} is false
     * @param contextK     B conditioning rows [L·D] for the keys (and the values on stock exports), never
     *                     modified once given: rows are recognised by identity
     * @param contextV     B conditioning rows for the values, used only by exports that take them
     * @param contextShape [L, D]
     */
    public float[][] predictRows(List<float[]> samples, long[] latentShape, double[] timesteps, List<float[]> contextK,
                                 List<float[]> contextV, long[] contextShape) {
        int b = samples.size();
        if (b == 0 || timesteps.length != b || contextK.size() != b || contextV.size() != b) {
            throw new IllegalArgumentException("batch mismatch: sample " + b + ", timesteps " + timesteps.length
                    + ", contexts " + contextK.size() + "/" + contextV.size());
        }
        if (!perSampleTimesteps) {
            for (double t : timesteps) {
                if (t != timesteps[0]) {
                    throw new IllegalArgumentException(model.label() + " takes one timestep per call; got several");
                }
            }
        }
        Buffers buf = buffers(latentShape, contextShape, b);
        int[] place = buf.place(contextK, contextV, b);
        int rowSize = buf.sample.rowSize();
        for (int i = 0; i < b; i++) {
            float[] row = samples.get(i);
            if (row.length != rowSize) {
                throw new IllegalArgumentException("sample row " + i + " has " + row.length + " values, expected " + rowSize);
            }
            buf.sample.put(place[i] * rowSize, row);
        }
        float[] t = buf.timestepScratch;
        if (perSampleTimesteps) {
            for (int i = 0; i < b; i++) {
                t[place[i]] = (float) timesteps[i];
            }
            buf.timestep.put(0, t, 0, b);
        } else {
            t[0] = (float) timesteps[0];
            buf.timestep.put(0, t, 0, 1);
        }
        Map<String, OnnxTensor> feed = new HashMap<>(8);
        feed.put(SAMPLE, buf.sample.view(b));
        feed.put(TIMESTEP, perSampleTimesteps ? buf.timestep.view(b) : buf.timestep.scalar());
        feed.put(CONTEXT, buf.keys.view(b));
        if (buf.values != null) {
            feed.put(CONTEXT_V, buf.values.view(b));
        }
        float[][] out = new float[b][];
        if (buf.output != null) {
            model.runPinned(feed, Map.of(output, buf.output.view(b)));
            for (int i = 0; i < b; i++) {
                out[i] = new float[rowSize];
                buf.output.get(place[i] * rowSize, out[i], 0, rowSize);
            }
        } else {
            FloatTensor all = model.run(feed, Set.copyOf(feed.values()), output).get(output);
            for (int i = 0; i < b; i++) {
                out[i] = all.itemData(place[i]);
            }
        }
        return out;
    }

    private Buffers buffers(long[] latentShape, long[] contextShape, int rows) {
        ShapeKey key = new ShapeKey(latentShape, contextShape);
        Buffers buf = buffers.get(key);
        if (buf != null && buf.sample.capacity() >= rows) {
            return buf;
        }
        if (buf != null) {
            buffers.remove(key).close();
        }
        // room for the next power of two, so a batch that fills up step by step reallocates only a few times
        int capacity = rows == 1 ? 1 : Integer.highestOneBit(rows - 1) << 1;
        buf = new Buffers(latentShape, contextShape, capacity);
        buffers.put(key, buf);
        return buf;
    }

    /** Releases the memory kept from earlier calls. */
    public void release() {
        buffers.values().forEach(Buffers::close);
        buffers.clear();
    }

    /** A latent shape and a context shape, compared by value (looked up every step, so no string is built). */
    private record ShapeKey(long[] latent, long[] context) {
        @Override
        public boolean equals(Object o) {
            return o instanceof ShapeKey k && Arrays.equals(latent, k.latent) && Arrays.equals(context, k.context);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(latent) + Arrays.hashCode(context);
        }
    }

    /**
     * Pinned inputs and output for one latent and context shape, and which conditioning array each row of
     * the context memory holds.
     */
    private final class Buffers implements AutoCloseable {
        final PinnedTensor sample;
        final PinnedTensor timestep;
        final PinnedTensor keys;
        final PinnedTensor values;
        final PinnedTensor output;
        final float[] timestepScratch;
        final float[][] heldK;
        final float[][] heldV;

        Buffers(long[] latentShape, long[] contextShape, int rows) {
            List<PinnedTensor> made = new ArrayList<>();
            try {
                sample = add(made, model.pinnedInput(SAMPLE, latentShape, rows));
                timestep = add(made, model.pinnedInput(TIMESTEP, new long[0], perSampleTimesteps ? rows : 1));
                keys = add(made, model.pinnedInput(CONTEXT, contextShape, rows));
                values = separateValueContext() ? add(made, model.pinnedInput(CONTEXT_V, contextShape, rows)) : null;
                output = model.pinnedOutput(UNet.this.output, latentShape, rows).map(o -> add(made, o)).orElse(null);
            } catch (RuntimeException e) {
                made.forEach(PinnedTensor::close);
                throw e;
            }
            timestepScratch = new float[rows];
            heldK = new float[rows][];
            heldV = new float[rows][];
        }

        private static PinnedTensor add(List<PinnedTensor> made, PinnedTensor t) {
            made.add(t);
            return t;
        }

        /**
         * Chooses the batch position of each row, preferring the position whose context memory already holds
         * the row's conditioning, and copies in the conditioning of rows that found none.
         */
        int[] place(List<float[]> contextK, List<float[]> contextV, int b) {
            int[] place = new int[b];
            boolean[] taken = new boolean[b];
            IdentityHashMap<float[], ArrayDeque<Integer>> where = new IdentityHashMap<>();
            for (int p = 0; p < b; p++) {
                if (heldK[p] != null) {
                    where.computeIfAbsent(heldK[p], x -> new ArrayDeque<>()).add(p);
                }
            }
            for (int i = 0; i < b; i++) {
                ArrayDeque<Integer> at = where.get(contextK.get(i));
                Integer p = at == null ? null : at.poll();
                place[i] = p == null ? -1 : p;
                if (p != null) {
                    taken[p] = true;
                }
            }
            int ctxSize = keys.rowSize();
            int free = 0;
            for (int i = 0; i < b; i++) {
                float[] k = contextK.get(i);
                if (k.length != ctxSize) {
                    throw new IllegalArgumentException("context row " + i + " has " + k.length + " values, expected "
                            + ctxSize);
                }
                if (place[i] < 0) {
                    while (taken[free]) {
                        free++;
                    }
                    taken[free] = true;
                    place[i] = free;
                    keys.put(free * ctxSize, k);
                    heldK[free] = k;
                }
                if (values != null) {
                    int p = place[i];
                    float[] v = contextV.get(i);
                    if (heldV[p] != v) {
                        if (v.length != ctxSize) {
                            throw new IllegalArgumentException("value context row " + i + " has " + v.length
                                    + " values, expected " + ctxSize);
                        }
                        values.put(p * ctxSize, v);
                        heldV[p] = v;
                    }
                }
            }
            return place;
        }

        @Override
        public void close() {
            for (PinnedTensor t : new PinnedTensor[] {sample, timestep, keys, values, output}) {
                if (t != null) {
                    t.close();
                }
            }
        }
    }
}
