package dev.kiln.bench;

import dev.kiln.pipeline.GenerationPipeline;
import dev.kiln.pipeline.model.ModelCatalog;
import dev.kiln.pipeline.stage.DecoderStage;
import dev.kiln.pipeline.stage.DenoiserStage;
import dev.kiln.pipeline.stage.EncoderStage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The gRPC wiring of another build's {@code kiln-protocol} jar (say, main's, before a change), loaded beside
 * this build's in the same process, so {@link Throughput} measures before and after in one run under the
 * same load. Only the {@code dev.kiln.protocol} classes come from that jar; {@code pipeline}, gRPC and Netty
 * are this build's, so the jar must have been built against the same versions of them.
 */
final class BaselineProtocol implements Throughput.GrpcWiring {
    private static final String PACKAGE = "dev.kiln.protocol.";

    private final ClassLoader loader;

    BaselineProtocol(Path protocolJar) {
        if (!Files.isRegularFile(protocolJar)) {
            throw new UncheckedIOException(new IOException("no protocol jar at " + protocolJar));
        }
        try {
            this.loader = new ProtocolFirst(new URL[] {protocolJar.toUri().toURL()}, BaselineProtocol.class.getClassLoader());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public Map.Entry<GenerationPipeline, AutoCloseable> wire(ModelCatalog catalog, EncoderStage encoder,
                                                             DenoiserStage denoiser, DecoderStage decoder) throws Exception {
        Class<?> server = loader.loadClass(PACKAGE + "server.StageServer");
        Method start = server.getMethod("start", int.class, EncoderStage.class, DenoiserStage.class, DecoderStage.class);
        Method address = server.getMethod("address");
        List<AutoCloseable> servers = new ArrayList<>();
        servers.add((AutoCloseable) start.invoke(null, 0, encoder, null, null));
        servers.add((AutoCloseable) start.invoke(null, 0, null, denoiser, null));
        servers.add((AutoCloseable) start.invoke(null, 0, null, null, decoder));
        Class<?> stages = loader.loadClass(PACKAGE + "client.RemoteStages");
        AutoCloseable remote = (AutoCloseable) stages.getConstructor(String.class, String.class, String.class, Duration.class)
                .newInstance(address.invoke(servers.get(0)), address.invoke(servers.get(1)), address.invoke(servers.get(2)),
                        Duration.ofMinutes(5));
        GenerationPipeline pipeline = (GenerationPipeline) stages.getMethod("pipeline", ModelCatalog.class)
                .invoke(remote, catalog);
        return Map.entry(pipeline, () -> {
            remote.close();
            for (AutoCloseable s : servers) {
                s.close();
            }
        });
    }

    /** Loads {@code dev.kiln.protocol} from its own jar before asking the parent; everything else as usual. */
    private static final class ProtocolFirst extends URLClassLoader {
        ProtocolFirst(URL[] urls, ClassLoader parent) {
            super(urls, parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (!name.startsWith(PACKAGE)) {
                return super.loadClass(name, resolve);
            }
            synchronized (getClassLoadingLock(name)) {
                Class<?> c = findLoadedClass(name);
                if (c == null) {
                    c = findClass(name);
                }
                if (resolve) {
                    resolveClass(c);
                }
                return c;
            }
        }
    }
}
