package dev.kiln.pipeline.denoise;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import dev.kiln.pipeline.error.ModelLoadException;
import dev.kiln.pipeline.model.OnnxModel;
import dev.kiln.pipeline.model.TensorSpec;
import dev.kiln.pipeline.tensor.FloatTensor;
import java.util.HashMap;
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

    private final OnnxModel model;
    private final boolean perSampleTimesteps;
    private final String output;
    private final HeldContext keys = new HeldContext();
    private final HeldContext values = new HeldContext();

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
     * <p>Not thread-safe: one denoise loop owns a UNet. It keeps the conditioning tensors of the last call
     * and feeds them again while the same images share consecutive calls, because copying [B, 77, 768]
     * contexts every step costs more than a small UNet's whole evaluation.
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
        if (timesteps.length != b || contextK.size() != b || contextV.size() != b) {
            throw new IllegalArgumentException("batch mismatch: sample " + b + ", timesteps " + timesteps.length
                    + ", contexts " + contextK.size() + "/" + contextV.size());
        }
        long[] ctxShape = {b, contextShape[0], contextShape[1]};
        Map<String, OnnxTensor> feed = new HashMap<>();
        try {
            feed.put(SAMPLE, model.floatInput(SAMPLE, sample.data(), sample.shape()));
            if (perSampleTimesteps) {
                float[] t = new float[b];
                for (int i = 0; i < b; i++) {
                    t[i] = (float) timesteps[i];
                }
                feed.put(TIMESTEP, model.floatInput(TIMESTEP, t, new long[] {b}));
            } else {
                for (double t : timesteps) {
                    if (t != timesteps[0]) {
                        throw new IllegalArgumentException(model.label() + " takes one timestep per call; got several");
                    }
                }
                feed.put(TIMESTEP, model.floatInput(TIMESTEP, new float[] {(float) timesteps[0]}, new long[0]));
            }
            keys.update(model, CONTEXT, contextK, ctxShape);
            feed.put(CONTEXT, keys.tensor);
            if (separateValueContext()) {
                values.update(model, CONTEXT_V, contextV, ctxShape);
                feed.put(CONTEXT_V, values.tensor);
            }
        } catch (OrtException e) {
            feed.values().stream().filter(t -> t != keys.tensor && t != values.tensor).forEach(OnnxTensor::close);
            throw new ModelLoadException(model.label() + ": cannot build inputs: " + e.getMessage(), e);
        }
        Set<OnnxTensor> reused = values.tensor == null ? Set.of(keys.tensor) : Set.of(keys.tensor, values.tensor);
        return model.run(feed, reused, output).get(output);
    }

    /** Releases the conditioning kept from the last call. */
    public void release() {
        keys.clear();
        values.clear();
    }

    /** A conditioning input kept open between calls, with the rows it was built from. */
    private static final class HeldContext {
        private List<float[]> rows = List.of();
        private OnnxTensor tensor;

        void update(OnnxModel model, String name, List<float[]> next, long[] shape) throws OrtException {
            if (tensor != null && sameRows(next)) {
                return;
            }
            clear();
            tensor = model.floatInput(name, next, shape);
            rows = List.copyOf(next);
        }

        /** Same arrays in the same order: conditioning arrays are never modified once encoded. */
        private boolean sameRows(List<float[]> next) {
            if (next.size() != rows.size()) {
                return false;
            }
            for (int i = 0; i < next.size(); i++) {
                if (next.get(i) != rows.get(i)) {
                    return false;
                }
            }
            return true;
        }

        void clear() {
            if (tensor != null) {
                tensor.close();
            }
            tensor = null;
            rows = List.of();
        }
    }
}
