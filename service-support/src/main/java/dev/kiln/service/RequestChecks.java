package dev.kiln.service;

import dev.kiln.protocol.TensorCodec;
import dev.kiln.protocol.v1.HypernetworkRef;
import dev.kiln.protocol.v1.Tensor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

import java.util.Arrays;
import java.util.List;

/**
 * Request validation shared by the gRPC stages. Every failure is INVALID_ARGUMENT naming the field, which
 * the gateway turns into a 400 with the same words; nothing malformed reaches a model.
 */
public final class RequestChecks {

    private RequestChecks() {
    }

    public static StatusRuntimeException invalid(String message) {
        return Status.INVALID_ARGUMENT.withDescription(message).asRuntimeException();
    }

    public static void require(boolean condition, String message) {
        if (!condition) {
            throw invalid(message);
        }
    }

    /**
     * Checks that {@code tensor} is present, of the given rank, and carries exactly the bytes its dtype and
     * shape call for.
     *
     * @return its shape
     */
    public static long[] tensor(String field, boolean present, Tensor tensor, int rank) {
        require(present, field + " is missing");
        long[] shape = TensorCodec.shape(tensor);
        require(shape.length == rank, field + " must have rank " + rank + ", got shape " + Arrays.toString(shape));
        try {
            TensorCodec.checkedElementCount(tensor);
        } catch (IllegalArgumentException e) {
            throw invalid(field + ": " + e.getMessage());
        }
        return shape;
    }

    /** Image sizes must map onto whole latent cells: the VAE downsamples by 8. */
    public static void imageSize(int width, int height) {
        require(width > 0 && height > 0, "width and height must be positive, got " + width + "x" + height);
        require(width % 8 == 0 && height % 8 == 0,
                "width and height must be multiples of 8, got " + width + "x" + height);
    }

    public static void hypernetworks(List<HypernetworkRef> hypernetworks) {
        for (HypernetworkRef h : hypernetworks) {
            require(!h.getName().isBlank(), "hypernetwork name is empty");
            require(Float.isFinite(h.getStrength()), "hypernetwork '" + h.getName() + "' has strength " + h.getStrength());
        }
    }
}
