package dev.kiln.service;

import dev.kiln.pipeline.model.ModelCatalog;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A stage built over the catalog once {@link StageState} has loaded it, and closed with the application.
 * Until then {@link #get()} throws the stage's UNAVAILABLE exception, so endpoints can take it as their stage
 * from the start.
 */
public final class LoadedStage<T> implements Supplier<T> {
    private final StageState state;
    private final Function<ModelCatalog, T> build;
    private volatile T stage;

    public LoadedStage(StageState state, Function<ModelCatalog, T> build) {
        this.state = state;
        this.build = build;
        state.closeOnShutdown(this::close);
    }

    /**
     * @throws dev.kiln.pipeline.error.StageUnavailableException while the models load
     */
    @Override
    public T get() {
        T s = stage;
        if (s == null) {
            synchronized (this) {
                if (stage == null) {
                    stage = build.apply(state.catalog());
                }
                s = stage;
            }
        }
        return s;
    }

    /** The stage if it has been built, else null (for metrics that must not trigger the build). */
    public T ifBuilt() {
        return stage;
    }

    private void close() throws Exception {
        if (stage instanceof AutoCloseable c) {
            c.close();
        }
    }
}
