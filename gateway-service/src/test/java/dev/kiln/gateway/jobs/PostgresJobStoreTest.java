package dev.kiln.gateway.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kiln.pipeline.error.OverloadedException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The PostgreSQL store against the real local database, each test in a fresh schema. */
class PostgresJobStoreTest {
    TestDatabase db;
    PostgresJobStore store;

    @BeforeEach
    void open() {
        db = new TestDatabase();
        store = new PostgresJobStore(db.dataSource());
    }

    @AfterEach
    void drop() {
        db.close();
    }

    static Job job(String id, Instant created) {
        return Job.queued(id, "{\"prompt\": \"" + id + "\", \"seed\": 1}", "sd15-tiny-kiln", 20, created);
    }

    @Test
    void jobsListNewestFirstByStatusAndPageByTheLastId() {
        Instant t0 = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        // "b" and "c" share a creation time: the id breaks the tie, so pages never skip or repeat a job
        store.add(job("a", t0), 10);
        store.add(job("b", t0.plusSeconds(1)), 10);
        store.add(job("c", t0.plusSeconds(1)), 10);
        store.add(job("d", t0.plusSeconds(2)), 10);
        store.claim("gw-1"); // "a", the oldest queued
        store.succeed("a", new JobResult(1, "url", List.of(), List.of()), List.of());

        assertEquals(List.of("d", "c", "b", "a"), ids(store.list(null, 10, null)));
        assertEquals(List.of("d", "c"), ids(store.list(null, 2, null)));
        assertEquals(List.of("b", "a"), ids(store.list(null, 2, "c")));
        assertEquals(List.of(), ids(store.list(null, 2, "a")));
        assertEquals(List.of("d", "c", "b"), ids(store.list(JobStatus.QUEUED, 10, null)));
        assertEquals(List.of("b"), ids(store.list(JobStatus.QUEUED, 10, "c")));
        assertEquals(List.of("a"), ids(store.list(JobStatus.SUCCEEDED, 10, null)));
        assertEquals(List.of(), ids(store.list(JobStatus.RUNNING, 10, null)));
        // the memory store of embedded mode orders and pages the same way
        MemoryJobStore memory = new MemoryJobStore(100, Clock.systemUTC());
        for (Job j : store.list(null, 10, null)) {
            memory.add(j, 10);
        }
        assertEquals(List.of("d", "c", "b", "a"), ids(memory.list(null, 10, null)));
        assertEquals(List.of("b", "a"), ids(memory.list(null, 2, "c")));
        assertEquals(List.of("a"), ids(memory.list(JobStatus.SUCCEEDED, 10, null)));
        assertEquals(List.of(), ids(store.list(null, 10, "no-such-job")));
        assertEquals(List.of(), ids(memory.list(null, 10, "no-such-job")));
    }

    static List<String> ids(List<Job> jobs) {
        return jobs.stream().map(Job::id).toList();
    }

    @Test
    void jobGoesFromQueuedToSucceededWithItsPictures() {
        Instant t0 = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        store.add(job("a", t0), 10);
        Job queued = store.get("a").orElseThrow();
        assertEquals(JobStatus.QUEUED, queued.status());
        assertEquals(t0, queued.createdAt());
        Job running = store.claim("gw-1").orElseThrow();
        assertEquals(JobStatus.RUNNING, running.status());
        assertEquals("gw-1", running.owner());
        assertEquals(1, running.attempts());
        assertTrue(store.claim("gw-1").isEmpty(), "one job, claimed once");

        store.heartbeat("gw-1", Map.of("a", new int[] {7, 20}));
        assertEquals(7, store.get("a").orElseThrow().step());

        JobResult result = new JobResult(123, "url", List.of(new JobResult.Image(0, 5, "p"), new JobResult.Image(1, 6, "p")),
                List.of("w"));
        store.succeed("a", result, List.of(new byte[] {1, 2}, new byte[] {3}));
        Job done = store.get("a").orElseThrow();
        assertEquals(JobStatus.SUCCEEDED, done.status());
        assertEquals(result, done.result());
        assertEquals(20, done.step());
        assertNull(done.owner());
        assertArrayEquals(new byte[] {3}, store.image("a", 1));
        assertNull(store.image("a", 2));
        // a late second finish changes nothing
        store.fail("a", new JobError(500, "x", "server_error", null, null));
        assertEquals(JobStatus.SUCCEEDED, store.get("a").orElseThrow().status());
    }

    @Test
    void jobsAreClaimedOldestFirstAndEachByOneRunner() throws Exception {
        Instant t0 = Instant.now();
        for (int i = 0; i < 40; i++) {
            store.add(job(String.format("j%02d", i), t0.plusMillis(i)), 100);
        }
        assertEquals("j00", store.claim("first").orElseThrow().id());
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<List<String>>> claimers = new ArrayList<>();
            for (int r = 0; r < 4; r++) {
                String owner = "gw-" + r;
                claimers.add(pool.submit(() -> {
                    List<String> mine = new ArrayList<>();
                    Optional<Job> j;
                    while ((j = store.claim(owner)).isPresent()) {
                        mine.add(j.get().id());
                    }
                    return mine;
                }));
            }
            List<String> all = new ArrayList<>();
            for (Future<List<String>> f : claimers) {
                all.addAll(f.get());
            }
            assertEquals(39, all.size());
            assertEquals(39, new HashSet<>(all).size(), "a job was claimed twice");
        } finally {
            pool.shutdown();
        }
        assertEquals(0, store.queued());
    }

    @Test
    void fullQueueRefusesNewJobs() {
        store.add(job("a", Instant.now()), 2);
        store.add(job("b", Instant.now()), 2);
        OverloadedException e = assertThrows(OverloadedException.class, () -> store.add(job("c", Instant.now()), 2));
        assertTrue(e.getMessage().contains("queue is full"));
        assertTrue(store.get("c").isEmpty());
        // a running job no longer counts as waiting
        store.claim("gw");
        store.add(job("c", Instant.now()), 2);
        assertEquals(2, store.queued());
    }

    @Test
    void cancellingAQueuedJobEndsItAndARunningJobIsFlaggedForItsRunner() {
        store.add(job("q", Instant.now()), 10);
        assertEquals(JobStatus.CANCELLED, store.requestCancel("q").orElseThrow().status());
        assertTrue(store.claim("gw").isEmpty(), "a cancelled job is not run");

        store.add(job("r", Instant.now()), 10);
        store.claim("gw");
        Job flagged = store.requestCancel("r").orElseThrow();
        assertEquals(JobStatus.RUNNING, flagged.status());
        assertTrue(flagged.cancelRequested());
        assertEquals(Set.of("r"), store.cancelRequested("gw"));
        assertEquals(Set.of(), store.cancelRequested("other"));
        // put back by a busy stage, a job someone cancelled is cancelled rather than queued again
        store.requeue("r", false);
        assertEquals(JobStatus.CANCELLED, store.get("r").orElseThrow().status());
        assertTrue(store.requestCancel("nope").isEmpty());
    }

    @Test
    void recoveryRequeuesJobsOfADeadGatewayAndGivesUpAfterTheAttempts() {
        Instant t0 = Instant.now();
        for (String id : List.of("mine", "fresh", "stale", "tired")) {
            store.add(job(id, t0), 10);
        }
        store.add(job("waiting", t0.plusSeconds(1)), 10);
        claim("mine", "gw-a");
        claim("fresh", "gw-b");
        claim("stale", "gw-c");
        claim("tired", "gw-a");
        db.execute("UPDATE kiln_job SET heartbeat_at = now() - interval '1 hour' WHERE id = 'stale'");
        db.execute("UPDATE kiln_job SET attempts = 3 WHERE id = 'tired'");

        int[] counts = store.recover("gw-a", Duration.ofSeconds(30), 3);
        assertEquals(2, counts[0], "re-queued");
        assertEquals(1, counts[1], "failed");
        assertEquals(JobStatus.QUEUED, store.get("mine").orElseThrow().status());
        assertEquals(JobStatus.RUNNING, store.get("fresh").orElseThrow().status(), "a live gateway's job is left alone");
        assertEquals(JobStatus.QUEUED, store.get("stale").orElseThrow().status());
        Job tired = store.get("tired").orElseThrow();
        assertEquals(JobStatus.FAILED, tired.status());
        assertEquals("interrupted", tired.error().code());
        assertTrue(tired.error().message().contains("interrupted 3 times"), tired.error().message());
        assertEquals(JobStatus.QUEUED, store.get("waiting").orElseThrow().status());
        // the periodic sweep (no owner of its own) takes only silent gateways' jobs
        assertEquals(0, store.recover(null, Duration.ofSeconds(30), 3)[0]);
        // re-queued jobs keep their place: oldest first, and count their attempt
        Job again = store.claim("gw-a").orElseThrow();
        assertTrue(Set.of("mine", "stale").contains(again.id()));
        assertEquals(2, again.attempts());
    }

    @Test
    void finishedJobsArePurgedAfterTheRetention() {
        store.add(job("old", Instant.now()), 10);
        store.add(job("new", Instant.now()), 10);
        store.add(job("waiting", Instant.now()), 10);
        store.claim("gw");
        store.claim("gw");
        store.succeed("old", new JobResult(1, "url", List.of(new JobResult.Image(0, 1, "p")), List.of()), List.of(new byte[] {1}));
        store.cancelled("new");
        db.execute("UPDATE kiln_job SET finished_at = now() - interval '8 days' WHERE id = 'old'");
        assertEquals(1, store.purgeFinished(Instant.now().minus(Duration.ofDays(7))));
        assertTrue(store.get("old").isEmpty());
        assertNull(store.image("old", 0));
        assertEquals(JobStatus.CANCELLED, store.get("new").orElseThrow().status());
        assertEquals(JobStatus.QUEUED, store.get("waiting").orElseThrow().status(), "unfinished jobs are never purged");
    }

    /** Claims exactly {@code id} for {@code owner}, whatever else is queued. */
    private void claim(String id, String owner) {
        db.execute("UPDATE kiln_job SET status = 'running', owner = '" + owner + "', started_at = now(), "
                + "heartbeat_at = now(), attempts = attempts + 1 WHERE id = '" + id + "'");
        assertEquals(owner, store.get(id).orElseThrow().owner());
    }
}
