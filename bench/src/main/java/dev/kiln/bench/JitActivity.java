package dev.kiln.bench;

import java.io.IOException;
import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

/**
 * How much CPU this JVM's JIT compilers have used, to tell when a wiring has stopped compiling.
 *
 * <p>On Linux it is the CPU time of the compiler threads themselves ({@code /proc/self/task/<tid>/schedstat},
 * threads named "C1 CompilerThre…" and "C2 CompilerThre…"). The {@link CompilationMXBean}'s total compilation time,
 * used before, said 2.6% of a core for the gRPC wiring at concurrency 16 in the same seconds that a profile counted
 * its compiler threads at 15.6% of one (1 560 of 16 050 samples over 10 s), so warm-ups ended while tier-4 compiles of
 * Netty, gRPC and protobuf code still took the UNet's cores. Where {@code /proc} cannot be read the bean's figure
 * is the fallback.
 */
final class JitActivity {
    private static final Path TASKS = Path.of("/proc/self/task");

    /** CPU nanoseconds per compiler thread at the last reading; threads come and go as the JIT scales its pool. */
    private final Map<String, Long> lastByThread = new HashMap<>();
    private final CompilationMXBean bean = ManagementFactory.getCompilationMXBean();
    private final boolean fromProc;
    private long lastBeanMillis = beanMillis();

    JitActivity() {
        Map<String, Long> threads = Files.isDirectory(TASKS) ? readThreads() : null;
        fromProc = threads != null;
        if (fromProc) {
            lastByThread.putAll(threads);
        }
    }

    /** Whether there is anything to read at all. */
    boolean available() {
        return fromProc || (bean != null && bean.isCompilationTimeMonitoringSupported());
    }

    /** Where the figures come from, for the bench's log. */
    String source() {
        return fromProc ? "compiler threads' CPU time" : "CompilationMXBean compile time";
    }

    /** Compiler CPU nanoseconds since the last call (or since this was made). */
    long nanosSinceLast() {
        if (!fromProc) {
            long now = beanMillis();
            long delta = (now - lastBeanMillis) * 1_000_000L;
            lastBeanMillis = now;
            return delta;
        }
        Map<String, Long> now = readThreads();
        if (now == null) {
            return 0;
        }
        long delta = 0;
        for (Map.Entry<String, Long> e : now.entrySet()) {
            // a thread the JIT started since the last reading counts from zero
            delta += Math.max(0, e.getValue() - lastByThread.getOrDefault(e.getKey(), 0L));
        }
        lastByThread.clear();
        lastByThread.putAll(now);
        return delta;
    }

    private long beanMillis() {
        return bean != null && bean.isCompilationTimeMonitoringSupported() ? bean.getTotalCompilationTime() : 0;
    }

    /** Thread id → CPU nanoseconds of every compiler thread, or null where /proc does not say. */
    private static Map<String, Long> readThreads() {
        Map<String, Long> out = new HashMap<>();
        try (Stream<Path> tasks = Files.list(TASKS)) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                try {
                    String comm = Files.readString(task.resolve("comm")).strip();
                    if (comm.startsWith("C1 CompilerThre") || comm.startsWith("C2 CompilerThre")) {
                        String schedstat = Files.readString(task.resolve("schedstat")).strip();
                        out.put(task.getFileName().toString(), Long.parseLong(schedstat.split(" ")[0]));
                    }
                } catch (IOException | NumberFormatException e) {
                    // the thread ended between listing and reading: it no longer compiles
                }
            }
        } catch (IOException e) {
            return null;
        }
        return out.isEmpty() ? null : out;
    }
}
