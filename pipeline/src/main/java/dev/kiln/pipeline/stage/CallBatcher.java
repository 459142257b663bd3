package dev.kiln.pipeline.stage;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * One model's session calls shared by the threads that call a stage at the same time: items handed in
 * while a call runs wait, and the next call takes as many of them as {@code maxItems} allows, in arrival order.
 *
 * <p>There is no thread of its own and no fill wait: whoever finds the session idle runs the next call on
 * its own thread, for everyone waiting at that moment. A lone caller therefore runs at once, exactly as without
 * batching, and batches form only when callers would otherwise queue for the session's cores anyway. Once a
 * call ends, the callers it finished are woken, and so is the caller of the next waiting item, who runs the
 * following call.
 *
 * <p>A call that fails is repeated item by item, so an item that cannot be run fails its own caller only.
 * Items must be batch-invariant for the model (an item's output does not depend on what it ran with),
 * which {@code SharedStageCallsTest} checks for the shipped models.
 *
 * @param <I> what one item is (a latent, a tokenized prompt)
 * @param <O> what the call gives for it
 */
final class CallBatcher<I, O> {
    /** The session call for a batch: one output per item, in order. */
    @FunctionalInterface
    interface Call<I, O> {
        List<O> run(List<I> items);
    }

    private final int maxItems;
    private final Call<I, O> call;
    private final IntConsumer observer;
    private final ArrayDeque<Entry<I, O>> waiting = new ArrayDeque<>();
    private boolean running;

    /**
     * @param maxItems most items in one call (1: every item alone)
     * @param observer told each call's number of items (for metrics)
     */
    CallBatcher(int maxItems, Call<I, O> call, IntConsumer observer) {
        if (maxItems < 1) {
            throw new IllegalArgumentException("maxItems must be >= 1, was " + maxItems);
        }
        this.maxItems = maxItems;
        this.call = call;
        this.observer = observer;
    }

    /**
     * Runs {@code items}, with those of other callers where they fit in the same calls, and gives their outputs
     * in order; throws what the call threw for the first item that failed. Waits without giving up on an
     * interrupt (the items are queued and will run), and keeps the interrupt for the caller.
     */
    List<O> run(List<I> items) {
        Caller caller = new Caller(Thread.currentThread(), items.size());
        List<Entry<I, O>> mine = new ArrayList<>(items.size());
        for (I item : items) {
            mine.add(new Entry<>(item, caller));
        }
        boolean interrupted = false;
        synchronized (this) {
            waiting.addAll(mine);
        }
        while (true) {
            List<Entry<I, O>> batch = null;
            synchronized (this) {
                if (caller.remaining == 0) {
                    break;
                }
                if (!running) {
                    running = true;
                    batch = take();
                }
            }
            if (batch == null) {
                LockSupport.park(this);
                interrupted |= Thread.interrupted();
                continue;
            }
            execute(batch);
            List<Thread> wake = new ArrayList<>();
            synchronized (this) {
                for (Entry<I, O> e : batch) {
                    if (--e.caller.remaining == 0 && e.caller != caller) {
                        wake.add(e.caller.thread);
                    }
                }
                running = false;
                Entry<I, O> next = waiting.peekFirst();
                if (next != null && next.caller != caller) {
                    wake.add(next.caller.thread);
                }
            }
            wake.forEach(LockSupport::unpark);
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        List<O> out = new ArrayList<>(mine.size());
        for (Entry<I, O> e : mine) {
            if (e.failure instanceof RuntimeException r) {
                throw r;
            }
            if (e.failure instanceof Error err) {
                throw err;
            }
            out.add(e.output);
        }
        return out;
    }

    private List<Entry<I, O>> take() {
        List<Entry<I, O>> batch = new ArrayList<>(Math.min(maxItems, waiting.size()));
        while (batch.size() < maxItems && !waiting.isEmpty()) {
            batch.add(waiting.pollFirst());
        }
        return batch;
    }

    /** Fills every entry of the batch with its output or its failure; never throws. */
    private void execute(List<Entry<I, O>> batch) {
        observer.accept(batch.size());
        try {
            deliver(batch, call.run(items(batch)));
            return;
        } catch (RuntimeException | Error e) {
            if (batch.size() == 1) {
                batch.get(0).failure = e;
                return;
            }
        }
        // one item may be what failed the call: the others should not fail with it
        for (Entry<I, O> e : batch) {
            try {
                deliver(List.of(e), call.run(List.of(e.item)));
            } catch (RuntimeException | Error failure) {
                e.failure = failure;
            }
        }
    }

    private void deliver(List<Entry<I, O>> batch, List<O> outputs) {
        if (outputs.size() != batch.size()) {
            throw new IllegalStateException("a batched call gave " + outputs.size() + " outputs for " + batch.size() + " items");
        }
        for (int i = 0; i < batch.size(); i++) {
            batch.get(i).output = outputs.get(i);
        }
    }

    private List<I> items(List<Entry<I, O>> batch) {
        List<I> items = new ArrayList<>(batch.size());
        for (Entry<I, O> e : batch) {
            items.add(e.item);
        }
        return items;
    }

    /** A thread waiting for its items; {@code remaining} is guarded by the batcher. */
    private static final class Caller {
        final Thread thread;
        int remaining;

        Caller(Thread thread, int remaining) {
            this.thread = thread;
            this.remaining = remaining;
        }
    }

    /** One item; its output or failure is written by the thread that ran it, before the batcher's lock is taken. */
    private static final class Entry<I, O> {
        final I item;
        final Caller caller;
        O output;
        Throwable failure;

        Entry(I item, Caller caller) {
            this.item = item;
            this.caller = caller;
        }
    }
}
