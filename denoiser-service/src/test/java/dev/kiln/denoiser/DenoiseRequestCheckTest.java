package dev.kiln.denoiser;

import com.google.protobuf.ByteString;
import dev.kiln.protocol.TensorCodec;
import dev.kiln.protocol.v1.Conditioning;
import dev.kiln.protocol.v1.DenoiseRequest;
import dev.kiln.protocol.v1.Tensor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DenoiseRequestCheckTest {

    private static Conditioning context(int batch) {
        Tensor hidden = TensorCodec.float32(new float[batch * 77 * 768], batch, 77, 768);
        return Conditioning.newBuilder().setContextK(hidden).setContextV(hidden).build();
    }

    private static DenoiseRequest.Builder twoImages() {
        return DenoiseRequest.newBuilder()
                .setCond(context(2)).setUncond(context(2))
                .setWidth(512).setHeight(512).setSteps(25).setGuidanceScale(7.5f)
                .addSeeds(1).addSeeds(2);
    }

    private static String invalid(DenoiseRequest.Builder request) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> DenoiserGrpcService.check(request.build()));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        return e.getStatus().getDescription();
    }

    @Test
    void aStableDiffusionRequestPasses() {
        assertDoesNotThrow(() -> DenoiserGrpcService.check(twoImages().build()));
        // one-step students run without guidance and need no uncond
        assertDoesNotThrow(() -> DenoiserGrpcService.check(twoImages().clearUncond().setGuidanceScale(1f).setSteps(1).build()));
    }

    @Test
    void seedsAreOnePerImage() {
        assertEquals("seeds must be one per image: 1 for a batch of 2", invalid(twoImages().clearSeeds().addSeeds(7)));
    }

    @Test
    void guidanceNeedsTheUnconditionalSide() {
        assertEquals("uncond is missing", invalid(twoImages().clearUncond()));
    }

    @Test
    void truncatedConditioningIsCaughtBeforeAnyModelSeesIt() {
        Tensor cut = context(2).getContextK().toBuilder().setData(ByteString.copyFrom(new byte[100])).build();
        String message = invalid(twoImages().setCond(context(2).toBuilder().setContextK(cut)));
        assertEquals("cond.context_k: tensor FLOAT32[2, 77, 768] needs 473088 bytes (118272 elements × 4), but carries 100",
                message);
    }

    @Test
    void sizesMustMapOntoLatentCells() {
        assertEquals("width and height must be multiples of 8, got 500x512", invalid(twoImages().setWidth(500)));
    }

    @Test
    void img2imgNeedsMatchingLatentsAndAStrength() {
        Tensor latents = TensorCodec.float32(new float[2 * 4 * 64 * 64], 2, 4, 64, 64);
        assertDoesNotThrow(() -> DenoiserGrpcService.check(twoImages().setInitLatents(latents).setStrength(0.6f).build()));
        assertEquals("strength must be in (0, 1] for img2img, got 0.0", invalid(twoImages().setInitLatents(latents)));
    }
}
