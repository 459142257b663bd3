package dev.kiln.pipeline.text;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The values of the last {@code capacity} keys used, the least recently used going first; thread-safe. Kiln's one
 * bounded memory of recent prompts and of their conditioning, in this process and at both ends of a stage call.
 */
public final class RecentlyUsed<V> {
    private final Map<String, V> values;

    public RecentlyUsed(int capacity) {
        values = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, V> eldest) {
                return size() > capacity;
            }
        };
    }

    /** The value of {@code key}, or null; a hit counts as a use. */
    public synchronized V get(String key) {
        return values.get(key);
    }

    /** Keeps {@code value} unless {@code key} has one already (which a concurrent caller may have put). */
    public synchronized void putIfAbsent(String key, V value) {
        values.putIfAbsent(key, value);
    }

    /** Keeps {@code value} under {@code key}, in place of any value it had. */
    public synchronized void put(String key, V value) {
        values.put(key, value);
    }

    /** Forgets {@code key}. */
    public synchronized void remove(String key) {
        values.remove(key);
    }
}
