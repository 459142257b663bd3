package dev.kiln.pipeline.model;

/**
 * How ONNX Runtime sessions run: on which provider and with how many threads.
 *
 * @param provider          {@code cpu} or {@code cuda}
 * @param deviceId          the CUDA device when the provider is {@code cuda}
 * @param allowCpuFallback  whether a missing CUDA provider falls back to the CPU (logged) or fails loading
 * @param intraOpThreads    threads per operator; 0 lets ONNX Runtime choose
 */
public record OnnxRuntimeOptions(String provider, int deviceId, boolean allowCpuFallback, int intraOpThreads) {

    public OnnxRuntimeOptions {
        if (!provider.equals("cpu") && !provider.equals("cuda")) {
            throw new IllegalArgumentException("unknown execution provider '" + provider + "': use cpu or cuda");
        }
        if (intraOpThreads < 0) {
            throw new IllegalArgumentException("intraOpThreads must be >= 0, was " + intraOpThreads);
        }
    }

    public static OnnxRuntimeOptions cpu() {
        return new OnnxRuntimeOptions("cpu", 0, true, 0);
    }

    public OnnxRuntimeOptions withThreads(int threads) {
        return new OnnxRuntimeOptions(provider, deviceId, allowCpuFallback, threads);
    }
}
