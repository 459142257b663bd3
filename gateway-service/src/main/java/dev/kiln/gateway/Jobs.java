package dev.kiln.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.gateway.jobs.JobEvents;
import dev.kiln.gateway.jobs.JobRunner;
import dev.kiln.gateway.jobs.JobStore;
import dev.kiln.gateway.jobs.MemoryJobStore;
import dev.kiln.gateway.jobs.PostgresJobStore;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;
import java.time.Clock;
import java.time.Duration;
import javax.sql.DataSource;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

/**
 * The gateway's jobs: the store chosen by {@code kiln.jobs.store} ({@code memory}, embedded mode's default,
 * needs no database; {@code postgresql} uses the datasource, which must then be active) and the runner.
 */
@ApplicationScoped
public class Jobs {
    private static final Logger LOG = Logger.getLogger(Jobs.class);

    @ConfigProperty(name = "kiln.jobs.store")
    String storeKind;
    @ConfigProperty(name = "kiln.jobs.instance")
    String instance;
    @ConfigProperty(name = "kiln.jobs.workers")
    int workers;
    @ConfigProperty(name = "kiln.jobs.max-queued")
    int maxQueued;
    @ConfigProperty(name = "kiln.jobs.keep-finished")
    int keepFinished;
    @ConfigProperty(name = "kiln.jobs.max-attempts")
    int maxAttempts;
    @ConfigProperty(name = "kiln.jobs.lease")
    Duration lease;
    @ConfigProperty(name = "kiln.jobs.heartbeat")
    Duration heartbeat;
    @ConfigProperty(name = "kiln.jobs.retry-delay")
    Duration retryDelay;
    @ConfigProperty(name = "kiln.jobs.preview-size")
    int previewSize;
    @ConfigProperty(name = "kiln.jobs.retention")
    Duration retention;
    @ConfigProperty(name = "kiln.jobs.timeout")
    Duration timeout;

    @Inject
    StageWiring stages;
    @Inject
    Instance<DataSource> dataSource;
    @Inject
    ObjectMapper json;
    @Inject
    MeterRegistry registry;

    private final JobEvents events = new JobEvents();
    private JobStore store;
    private JobRunner runner;

    void start(@Observes StartupEvent e) {
        store = switch (storeKind) {
            case "memory" -> new MemoryJobStore(keepFinished, Clock.systemUTC());
            case "postgresql" -> new PostgresJobStore(database());
            default -> throw new IllegalArgumentException("kiln.jobs.store must be memory or postgresql, was '" + storeKind + "'");
        };
        runner = new JobRunner(store, new PipelineJobWork(stages, json, previewSize, timeout), events,
                new JobRunner.Options(instance, workers, maxQueued, maxAttempts, lease, heartbeat, retryDelay, retention),
                Clock.systemUTC());
        runner.start();
        Gauge.builder("kiln.stage.queue.depth", this, j -> j.store.queued() + j.runner.runningCount())
                .tag("stage", "jobs").description("jobs waiting or running").register(registry);
        LOG.infof("jobs: %s store, %d workers, at most %d queued, instance %s", storeKind, workers, maxQueued, instance);
    }

    private DataSource database() {
        try {
            DataSource ds = dataSource.get();
            ds.getConnection().close();
            return ds;
        } catch (Exception ex) {
            throw new IllegalStateException("kiln.jobs.store=postgresql needs a database: set quarkus.datasource.active=true and "
                    + "quarkus.datasource.jdbc.url (the 'distributed' profile does): " + ex.getMessage(), ex);
        }
    }

    // before the pipeline closes, so running jobs are put back in the queue rather than failed by a closing denoiser
    void stop(@Observes @Priority(1) ShutdownEvent e) {
        if (runner != null) {
            runner.close();
        }
    }

    public JobStore store() {
        return store;
    }

    public JobRunner runner() {
        return runner;
    }

    public JobEvents events() {
        return events;
    }

    /** Rejected submissions, under DESIGN.md's metric name. */
    void rejected(String reason) {
        registry.counter("kiln.requests.rejected", "stage", "jobs", "reason", reason).increment();
    }
}
