package dev.kiln.pipeline.text;

import java.util.LinkedHashMap;
import java.util.Map;

/** The values of the last {@code capacity} keys used, the least recently used going first; thread-safe. */
final class RecentlyUsed<V> {
    private final Map<String, V> values;

    RecentlyUsed(int capacity) {
        values = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, V> eldest) {
                return size() > capacity;
            }
        };
    }

    /** The value of {@code key}, or null; a hit counts as a use. */
    synchronized V get(String key) {
        return values.get(key);
    }

    /** Keeps {@code value} unless {@code key} has one already (which a concurrent caller may have put). */
    synchronized void putIfAbsent(String key, V value) {
        values.putIfAbsent(key, value);
    }
}
