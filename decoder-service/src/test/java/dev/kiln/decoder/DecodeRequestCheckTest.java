package dev.kiln.decoder;

import com.google.protobuf.ByteString;
import dev.kiln.protocol.TensorCodec;
import dev.kiln.protocol.v1.DecodeRequest;
import dev.kiln.protocol.v1.EncodeImageRequest;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class DecodeRequestCheckTest {

    private static DecodeRequest.Builder twoLatents() {
        return DecodeRequest.newBuilder().setLatents(TensorCodec.float32(new float[2 * 4 * 64 * 64], 2, 4, 64, 64));
    }

    @Test
    void latentsWithParametersPerImagePass() {
        assertDoesNotThrow(() -> DecoderGrpcService.checkDecode(twoLatents().addParameters("a").addParameters("b").build()));
    }

    @Test
    void latentsMustBeFourDimensional() {
        DecodeRequest flat = DecodeRequest.newBuilder().setLatents(TensorCodec.float32(new float[16], 16)).build();
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> DecoderGrpcService.checkDecode(flat));
        assertEquals("latents must have rank 4, got shape [16]", e.getStatus().getDescription());
    }

    @Test
    void parametersAreOnePerImage() {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> DecoderGrpcService.checkDecode(twoLatents().addParameters("only one").build()));
        assertEquals("parameters must be empty or one per image: 1 for 2", e.getStatus().getDescription());
    }

    @Test
    void imagesToEncodeMustBeThere() {
        EncodeImageRequest empty = EncodeImageRequest.newBuilder().setWidth(512).setHeight(512)
                .addImages(ByteString.EMPTY).build();
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> DecoderGrpcService.checkEncodeImage(empty));
        assertEquals("images[0] is empty", e.getStatus().getDescription());
    }
}
