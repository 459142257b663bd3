package dev.kiln.service;

import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Singleton;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * The threads a stage's gRPC calls run on ({@code kiln.stage.threads}): they block on ONNX Runtime, so they
 * stay off the server's event loops. Calls beyond the pool wait in its queue, counted by {@link StageQueue}.
 */
@Singleton
public class StageExecutor implements Executor {
    private final ExecutorService pool;

    StageExecutor(@ConfigProperty(name = "kiln.stage.name") String stage,
                  @ConfigProperty(name = "kiln.stage.threads", defaultValue = "4") int threads) {
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(Math.max(1, threads), r -> {
            Thread t = new Thread(r, "kiln-" + stage + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public void execute(Runnable command) {
        pool.execute(command);
    }

    void stop(@Observes ShutdownEvent e) {
        pool.shutdownNow();
    }
}
