package dev.kiln.pipeline.scheduler;

import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * The scheduler catalogue: Kiln's names, the names users bring with them (AUTOMATIC1111 sampler
 * names, diffusers class names, common spellings) and the display name each one is recorded under.
 */
public final class Schedulers {
    private record Entry(String name, String displayName, Function<SchedulerConfig, Scheduler> factory) {
    }

    private static final List<Entry> ENTRIES = List.of(
            new Entry("ddim", "DDIM", DdimScheduler::new),
            new Entry("euler", "Euler", EulerDiscreteScheduler::new),
            new Entry("dpmpp_2m", "DPM++ 2M", DpmSolverMultistepScheduler::new),
            new Entry("lcm", "LCM", LcmScheduler::new),
            new Entry("onestep", "One-step", OneStepScheduler::new));

    /** Other spellings, lower case, to canonical names; canonical and display names match themselves. */
    private static final Map<String, String> ALIASES = Map.ofEntries(
            Map.entry("ddimscheduler", "ddim"),
            Map.entry("euler discrete", "euler"),
            Map.entry("euler_discrete", "euler"),
            Map.entry("eulerdiscretescheduler", "euler"),
            Map.entry("dpm++ 2m", "dpmpp_2m"),
            Map.entry("dpm++_2m", "dpmpp_2m"),
            Map.entry("dpm++2m", "dpmpp_2m"),
            Map.entry("dpmpp2m", "dpmpp_2m"),
            Map.entry("dpmsolver++", "dpmpp_2m"),
            Map.entry("dpmsolvermultistepscheduler", "dpmpp_2m"),
            Map.entry("lcmscheduler", "lcm"),
            Map.entry("one-step", "onestep"),
            Map.entry("one_step", "onestep"),
            Map.entry("one step", "onestep"),
            Map.entry("dmd", "onestep"));

    private Schedulers() {
    }

    /** Kiln's canonical scheduler names, in catalogue order. */
    public static List<String> names() {
        return ENTRIES.stream().map(Entry::name).toList();
    }

    /**
     * The scheduler called {@code name} (case-insensitive; canonical, AUTOMATIC1111 or diffusers
     * spelling) over {@code config}.
     *
     * @throws IllegalArgumentException for an unknown name, listing the known ones
     */
    public static Scheduler create(String name, SchedulerConfig config) {
        return entry(name).factory().apply(config);
    }

    /** The canonical name for any accepted spelling, e.g. "DPM++ 2M" → "dpmpp_2m". */
    public static String canonicalName(String name) {
        return entry(name).name();
    }

    /** The AUTOMATIC1111 sampler name for any accepted spelling, as PNG generation parameters record it. */
    public static String displayName(String name) {
        return entry(name).displayName();
    }

    private static Entry entry(String name) {
        String key = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        String canonical = ALIASES.getOrDefault(key, key);
        for (Entry entry : ENTRIES) {
            if (entry.name().equals(canonical) || entry.displayName().toLowerCase(Locale.ROOT).equals(canonical)) {
                return entry;
            }
        }
        throw new IllegalArgumentException("unknown scheduler '" + name + "'; choose one of: " + String.join(", ", names()));
    }
}
