package dev.kiln.pipeline.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * How concurrent callers share calls: a lone caller runs at once on its own thread, callers that arrive while a
 * call runs go together into the next one (in arrival order, at most {@code maxItems}), every caller gets its own
 * outputs, and an item that fails its call fails only its caller. The call here squares integers, so every
 * output is known without the code under test.
 */
@Timeout(30)
class CallBatcherTest {
    /** Squares its items; the first call blocks until {@code release} opens, so others queue behind it. */
    static final class BlockingSquares implements CallBatcher.Call<Integer, Integer> {
        final CountDownLatch running = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final List<List<Integer>> calls = Collections.synchronizedList(new ArrayList<>());
        final List<String> threads = Collections.synchronizedList(new ArrayList<>());

        @Override
        public List<Integer> run(List<Integer> items) {
            calls.add(List.copyOf(items));
            threads.add(Thread.currentThread().getName());
            if (calls.size() == 1) {
                running.countDown();
                await(release);
            }
            if (items.contains(-1)) {
                throw new IllegalArgumentException("item -1 cannot be run");
            }
            return items.stream().map(i -> i * i).toList();
        }
    }

    static void await(CountDownLatch latch) {
        try {
            assertTrue(latch.await(10, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Waits until {@code n} threads of the pool are parked in the batcher (their items queued). */
    static void awaitWaiting(CallBatcher<?, ?> batcher, List<Thread> threads, int n) throws InterruptedException {
        for (int i = 0; i < 1000; i++) {
            long parked = threads.stream().filter(t -> t.getState() == Thread.State.WAITING
                    && java.util.concurrent.locks.LockSupport.getBlocker(t) == batcher).count();
            if (parked >= n) {
                return;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("callers did not queue");
    }

    /** A pool that lists its threads in the order it starts them, so a test can watch them queue. */
    static ExecutorService pool(List<Thread> threads) {
        return Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r);
            threads.add(t);
            return t;
        });
    }

    @Test
    void aLoneCallerRunsAtOnceOnItsOwnThread() {
        BlockingSquares call = new BlockingSquares();
        call.release.countDown();
        List<Integer> sizes = new ArrayList<>();
        CallBatcher<Integer, Integer> batcher = new CallBatcher<>(8, call, sizes::add);
        assertEquals(List.of(9, 16), batcher.run(List.of(3, 4)));
        assertEquals(List.of(25), batcher.run(List.of(5)));
        assertEquals(List.of(List.of(3, 4), List.of(5)), call.calls);
        assertEquals(List.of(Thread.currentThread().getName(), Thread.currentThread().getName()), call.threads);
        assertEquals(List.of(2, 1), sizes);
    }

    @Test
    void callersThatArriveDuringACallShareTheNextInArrivalOrder() throws Exception {
        BlockingSquares call = new BlockingSquares();
        List<Integer> sizes = Collections.synchronizedList(new ArrayList<>());
        CallBatcher<Integer, Integer> batcher = new CallBatcher<>(5, call, sizes::add);
        List<Thread> threads = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = pool(threads);
        try {
            Future<List<Integer>> first = pool.submit(() -> batcher.run(List.of(1)));
            call.running.await();
            // three callers queue behind the running call, one after another: 2 items, 2 items, 3 items
            List<Future<List<Integer>>> later = new ArrayList<>();
            int[][] asks = {{2, 3}, {4, 5}, {6, 7, 8}};
            for (int i = 0; i < asks.length; i++) {
                List<Integer> items = java.util.Arrays.stream(asks[i]).boxed().toList();
                later.add(pool.submit(() -> batcher.run(items)));
                awaitWaiting(batcher, threads, i + 1);
            }
            call.release.countDown();
            assertEquals(List.of(1), first.get());
            assertEquals(List.of(4, 9), later.get(0).get());
            assertEquals(List.of(16, 25), later.get(1).get());
            assertEquals(List.of(36, 49, 64), later.get(2).get());
            // the second call took the first five waiting items, the third the rest
            assertEquals(List.of(List.of(1), List.of(2, 3, 4, 5, 6), List.of(7, 8)), call.calls);
            assertEquals(List.of(1, 5, 2), sizes);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void anItemThatFailsItsCallFailsOnlyItsCaller() throws Exception {
        BlockingSquares call = new BlockingSquares();
        CallBatcher<Integer, Integer> batcher = new CallBatcher<>(8, call, n -> { });
        List<Thread> threads = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = pool(threads);
        try {
            Future<List<Integer>> first = pool.submit(() -> batcher.run(List.of(1)));
            call.running.await();
            Future<List<Integer>> good = pool.submit(() -> batcher.run(List.of(2, 3)));
            awaitWaiting(batcher, threads, 1);
            Future<List<Integer>> bad = pool.submit(() -> batcher.run(List.of(4, -1)));
            awaitWaiting(batcher, threads, 2);
            Future<List<Integer>> alsoGood = pool.submit(() -> batcher.run(List.of(5)));
            awaitWaiting(batcher, threads, 3);
            call.release.countDown();
            assertEquals(List.of(1), first.get());
            assertEquals(List.of(4, 9), good.get());
            assertEquals(List.of(25), alsoGood.get());
            var failure = assertThrows(java.util.concurrent.ExecutionException.class, bad::get);
            assertTrue(failure.getCause() instanceof IllegalArgumentException, failure.toString());
            assertEquals("item -1 cannot be run", failure.getCause().getMessage());
            // the shared call failed, then each of its items ran alone
            assertEquals(List.of(List.of(1), List.of(2, 3, 4, -1, 5), List.of(2), List.of(3), List.of(4), List.of(-1),
                    List.of(5)), call.calls);
            // and the batcher goes on serving
            assertEquals(List.of(36), batcher.run(List.of(6)));
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void manyCallersAllGetTheirOwnOutputs() throws Exception {
        CallBatcher.Call<Integer, Integer> squares = items -> items.stream().map(i -> i * i).toList();
        List<Integer> sizes = Collections.synchronizedList(new ArrayList<>());
        CallBatcher<Integer, Integer> batcher = new CallBatcher<>(4, squares, sizes::add);
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try {
            List<Future<Boolean>> all = new ArrayList<>();
            for (int c = 0; c < 16; c++) {
                int base = c * 1000;
                all.add(pool.submit(() -> {
                    for (int r = 0; r < 200; r++) {
                        int a = base + r;
                        if (!batcher.run(List.of(a, a + 1)).equals(List.of(a * a, (a + 1) * (a + 1)))) {
                            return false;
                        }
                    }
                    return true;
                }));
            }
            for (Future<Boolean> f : all) {
                assertTrue(f.get());
            }
            assertEquals(16 * 200 * 2, sizes.stream().mapToInt(Integer::intValue).sum());
            assertTrue(sizes.stream().allMatch(n -> n >= 1 && n <= 4), "every call within 1..4 items: " + sizes);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void anInterruptedCallerStillGetsItsOutputsAndKeepsTheInterrupt() throws Exception {
        BlockingSquares call = new BlockingSquares();
        CallBatcher<Integer, Integer> batcher = new CallBatcher<>(8, call, n -> { });
        List<Thread> threads = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = pool(threads);
        try {
            pool.submit(() -> batcher.run(List.of(1)));
            call.running.await();
            Future<Boolean> waiter = pool.submit(() -> batcher.run(List.of(7)).equals(List.of(49))
                    && Thread.currentThread().isInterrupted());
            awaitWaiting(batcher, threads, 1);
            threads.get(1).interrupt();
            Thread.sleep(50);
            call.release.countDown();
            assertTrue(waiter.get());
        } finally {
            pool.shutdownNow();
        }
    }
}
