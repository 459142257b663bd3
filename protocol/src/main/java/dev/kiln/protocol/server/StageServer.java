package dev.kiln.protocol.server;

import dev.kiln.pipeline.stage.DecoderStage;
import dev.kiln.pipeline.stage.DenoiserStage;
import dev.kiln.pipeline.stage.EncoderStage;
import dev.kiln.protocol.TensorCodec;
import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * A bare gRPC server for stages, without Quarkus: what tests and benchmarks use to put in-process stages
 * behind the network (the services register the same endpoints in their Quarkus server).
 */
public final class StageServer implements AutoCloseable {
    private final Server server;
    private final ExecutorService executor;

    private StageServer(Server server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /**
     * Serves the given stages (null for one not served here) on {@code port} of the loopback interface
     * (0 picks a free port).
     */
    public static StageServer start(int port, EncoderStage encoder, DenoiserStage denoiser, DecoderStage decoder) {
        ExecutorService executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "kiln-stage-server");
            t.setDaemon(true);
            return t;
        });
        // the endpoints only hand calls to the executor, so they run where the call arrives, without a hop
        NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
                .directExecutor()
                .maxInboundMessageSize(TensorCodec.MAX_MESSAGE_BYTES);
        if (encoder != null) {
            b.addService(new EncoderEndpoint(() -> encoder, StageMonitor.NONE, executor));
        }
        if (denoiser != null) {
            b.addService(new DenoiserEndpoint(() -> denoiser, StageMonitor.NONE, executor));
        }
        if (decoder != null) {
            b.addService(new DecoderEndpoint(() -> decoder, StageMonitor.NONE, executor));
        }
        try {
            return new StageServer(b.build().start(), executor);
        } catch (IOException e) {
            executor.shutdownNow();
            throw new UncheckedIOException("cannot start a stage server on port " + port + ": " + e.getMessage(), e);
        }
    }

    /** {@code 127.0.0.1:port}, as clients address it. */
    public String address() {
        return "127.0.0.1:" + server.getPort();
    }

    @Override
    public void close() {
        server.shutdownNow();
        try {
            server.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        executor.shutdownNow();
    }
}
