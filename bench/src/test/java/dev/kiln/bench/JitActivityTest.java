package dev.kiln.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class JitActivityTest {
    /** Work the JIT has not seen: a class of its own, so no earlier test compiled it. */
    static final class FreshWork {
        static long run(int n) {
            long h = 1;
            for (int i = 0; i < n; i++) {
                h = h * 31 + (i ^ (h >>> 7));
            }
            return h;
        }
    }

    @Test
    void compilingNewCodeShowsAsCompilerThreadTime() {
        assumeTrue(Files.isDirectory(Path.of("/proc/self/task")), "needs Linux's /proc");
        JitActivity jit = new JitActivity();
        assertEquals("compiler threads' CPU time", jit.source());
        jit.nanosSinceLast();

        long sink = 0;
        for (int i = 0; i < 20_000; i++) {
            sink += FreshWork.run(1_000);
        }
        // the compiles are queued by the calls above; give the compiler threads a moment to finish them
        long compiled = 0;
        for (int i = 0; i < 50 && compiled == 0; i++) {
            compiled += jit.nanosSinceLast();
            sleep();
        }

        assertTrue(compiled > 0, "compiling FreshWork took no compiler CPU time (" + sink + ")");
    }

    @Test
    void aReadingCountsOnlyWhatWasCompiledSinceTheLastOne() {
        assumeTrue(Files.isDirectory(Path.of("/proc/self/task")), "needs Linux's /proc");
        JitActivity jit = new JitActivity();
        jit.nanosSinceLast();
        sleep();
        long idle = jit.nanosSinceLast();

        assertTrue(idle >= 0, "a reading went backwards: " + idle);
        assertTrue(idle < 100_000_000, "more compiling than two compiler threads can do in a 20 ms sleep, so the reading counted earlier time too: " + idle);
    }

    private static void sleep() {
        try {
            Thread.sleep(20);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
