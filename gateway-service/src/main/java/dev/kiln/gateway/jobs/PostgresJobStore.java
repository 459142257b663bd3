package dev.kiln.gateway.jobs;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;

/**
 * Distributed mode's store: the {@code kiln_job} tables (Flyway migration {@code V1__jobs.sql}). Every
 * transition is one SQL statement guarded by the status it expects, so replicas sharing the database
 * agree on who runs what, and a gateway that restarts finds every job it had accepted.
 */
public final class PostgresJobStore implements JobStore {
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    private static final String COLUMNS = "id, status, request::text AS request, model, step, total_steps, created_at, "
            + "started_at, finished_at, attempts, owner, cancel_requested, result::text AS result, error::text AS error";

    private final DataSource db;

    public PostgresJobStore(DataSource db) {
        this.db = db;
    }

    @Override
    public void add(Job job, int maxQueued) {
        int rows = update("INSERT INTO kiln_job (id, status, request, model, step, total_steps, created_at, attempts) "
                        + "SELECT ?, 'queued', ?::jsonb, ?, 0, ?, ?, 0 "
                        + "WHERE (SELECT count(*) FROM kiln_job WHERE status = 'queued') < ?",
                job.id(), job.request(), job.model(), job.totalSteps(), Timestamp.from(job.createdAt()), maxQueued);
        if (rows == 0) {
            throw JobStore.queueFull(maxQueued);
        }
    }

    @Override
    public Optional<Job> get(String id) {
        return one("SELECT " + COLUMNS + " FROM kiln_job WHERE id = ?", id);
    }

    @Override
    public List<Job> list(JobStatus status, int limit, String before) {
        String wire = status == null ? null : status.wireName();
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement("SELECT " + COLUMNS
                + " FROM kiln_job WHERE (?::text IS NULL OR status = ?) AND (?::text IS NULL OR (created_at, id) < "
                + "(SELECT created_at, id FROM kiln_job WHERE id = ?)) ORDER BY created_at DESC, id DESC LIMIT ?")) {
            bind(s, wire, wire, before, before, limit);
            List<Job> out = new ArrayList<>();
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    out.add(job(r));
                }
            }
            return out;
        } catch (SQLException e) {
            throw failure("list jobs", e);
        }
    }

    @Override
    public Optional<Job> claim(String owner) {
        return one("UPDATE kiln_job SET status = 'running', owner = ?, started_at = now(), heartbeat_at = now(), "
                + "attempts = attempts + 1, step = 0 WHERE id = (SELECT id FROM kiln_job WHERE status = 'queued' "
                + "ORDER BY created_at, id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING " + COLUMNS, owner);
    }

    @Override
    public void heartbeat(String owner, Map<String, int[]> progress) {
        try (Connection c = db.getConnection()) {
            try (PreparedStatement alive = c.prepareStatement(
                    "UPDATE kiln_job SET heartbeat_at = now() WHERE owner = ? AND status = 'running'")) {
                alive.setString(1, owner);
                alive.executeUpdate();
            }
            if (progress.isEmpty()) {
                return;
            }
            try (PreparedStatement p = c.prepareStatement("UPDATE kiln_job SET step = ?, total_steps = ? "
                    + "WHERE id = ? AND owner = ? AND status = 'running'")) {
                for (Map.Entry<String, int[]> e : progress.entrySet()) {
                    p.setInt(1, e.getValue()[0]);
                    p.setInt(2, e.getValue()[1]);
                    p.setString(3, e.getKey());
                    p.setString(4, owner);
                    p.addBatch();
                }
                p.executeBatch();
            }
        } catch (SQLException e) {
            throw failure("record job progress", e);
        }
    }

    @Override
    public Set<String> cancelRequested(String owner) {
        Set<String> ids = new HashSet<>();
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement(
                "SELECT id FROM kiln_job WHERE owner = ? AND status = 'running' AND cancel_requested")) {
            s.setString(1, owner);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    ids.add(r.getString(1));
                }
            }
        } catch (SQLException e) {
            throw failure("read cancellations", e);
        }
        return ids;
    }

    @Override
    public void succeed(String id, JobResult result, List<byte[]> pngs) {
        try (Connection c = db.getConnection()) {
            c.setAutoCommit(false);
            try {
                int rows;
                try (PreparedStatement s = c.prepareStatement("UPDATE kiln_job SET status = 'succeeded', step = total_steps, "
                        + "finished_at = now(), owner = NULL, result = ?::jsonb WHERE id = ? AND status = 'running'")) {
                    s.setString(1, JSON.writeValueAsString(result));
                    s.setString(2, id);
                    rows = s.executeUpdate();
                }
                if (rows == 1) {
                    try (PreparedStatement s = c.prepareStatement(
                            "INSERT INTO kiln_job_image (job_id, image_index, png) VALUES (?, ?, ?)")) {
                        for (int i = 0; i < pngs.size(); i++) {
                            s.setString(1, id);
                            s.setInt(2, i);
                            s.setBytes(3, pngs.get(i));
                            s.addBatch();
                        }
                        s.executeBatch();
                    }
                }
                c.commit();
            } catch (SQLException | JsonProcessingException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException | JsonProcessingException e) {
            throw failure("record the result of job " + id, e);
        }
    }

    @Override
    public void fail(String id, JobError error) {
        update("UPDATE kiln_job SET status = 'failed', finished_at = now(), owner = NULL, error = ?::jsonb "
                + "WHERE id = ? AND status IN ('queued', 'running')", json(error), id);
    }

    @Override
    public void cancelled(String id) {
        update("UPDATE kiln_job SET status = 'cancelled', finished_at = now(), owner = NULL "
                + "WHERE id = ? AND status IN ('queued', 'running')", id);
    }

    @Override
    public void requeue(String id, boolean countAttempt) {
        update("UPDATE kiln_job SET status = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'queued' END, "
                + "finished_at = CASE WHEN cancel_requested THEN now() END, owner = NULL, started_at = NULL, step = 0, "
                + "attempts = attempts - ? WHERE id = ? AND status = 'running'", countAttempt ? 0 : 1, id);
    }

    @Override
    public Optional<Job> requestCancel(String id) {
        return one("UPDATE kiln_job SET "
                + "cancel_requested = cancel_requested OR status IN ('queued', 'running'), "
                + "finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END, "
                + "status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END "
                + "WHERE id = ? RETURNING " + COLUMNS, id);
    }

    @Override
    public int[] recover(String owner, Duration lease, int maxAttempts) {
        String gaveUp = json(new JobError(503, "the job was interrupted " + maxAttempts
                + " times (the gateway running it stopped); it was not run again. Submit it again.",
                "server_error", null, "interrupted"));
        int[] counts = new int[2];
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement(
                "UPDATE kiln_job SET "
                        + "status = CASE WHEN cancel_requested THEN 'cancelled' WHEN attempts >= ? THEN 'failed' ELSE 'queued' END, "
                        + "error = CASE WHEN NOT cancel_requested AND attempts >= ? THEN ?::jsonb END, "
                        + "finished_at = CASE WHEN cancel_requested OR attempts >= ? THEN now() END, "
                        + "started_at = NULL, owner = NULL, step = 0 "
                        + "WHERE status = 'running' AND (owner = ? OR heartbeat_at < now() - make_interval(secs => ?)) "
                        + "RETURNING status")) {
            s.setInt(1, maxAttempts);
            s.setInt(2, maxAttempts);
            s.setString(3, gaveUp);
            s.setInt(4, maxAttempts);
            s.setString(5, owner);
            s.setDouble(6, lease.toMillis() / 1000.0);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    counts[r.getString(1).equals("queued") ? 0 : 1]++;
                }
            }
        } catch (SQLException e) {
            throw failure("recover interrupted jobs", e);
        }
        return counts;
    }

    @Override
    public int purgeFinished(Instant before) {
        return update("DELETE FROM kiln_job WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at < ?",
                Timestamp.from(before));
    }

    @Override
    public byte[] image(String id, int index) {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement(
                "SELECT png FROM kiln_job_image WHERE job_id = ? AND image_index = ?")) {
            s.setString(1, id);
            s.setInt(2, index);
            try (ResultSet r = s.executeQuery()) {
                return r.next() ? r.getBytes(1) : null;
            }
        } catch (SQLException e) {
            throw failure("read a picture of job " + id, e);
        }
    }

    @Override
    public int queued() {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement(
                "SELECT count(*) FROM kiln_job WHERE status = 'queued'"); ResultSet r = s.executeQuery()) {
            r.next();
            return r.getInt(1);
        } catch (SQLException e) {
            throw failure("count queued jobs", e);
        }
    }

    private Optional<Job> one(String sql, Object... params) {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            bind(s, params);
            try (ResultSet r = s.executeQuery()) {
                return r.next() ? Optional.of(job(r)) : Optional.empty();
            }
        } catch (SQLException e) {
            throw failure("read jobs", e);
        }
    }

    private int update(String sql, Object... params) {
        try (Connection c = db.getConnection(); PreparedStatement s = c.prepareStatement(sql)) {
            bind(s, params);
            return s.executeUpdate();
        } catch (SQLException e) {
            throw failure("update jobs", e);
        }
    }

    private static void bind(PreparedStatement s, Object... params) throws SQLException {
        for (int i = 0; i < params.length; i++) {
            if (params[i] instanceof String str) {
                s.setString(i + 1, str);
            } else {
                s.setObject(i + 1, params[i]);
            }
        }
    }

    private static Job job(ResultSet r) throws SQLException {
        try {
            String result = r.getString("result");
            String error = r.getString("error");
            return new Job(r.getString("id"), JobStatus.of(r.getString("status")), r.getString("request"),
                    r.getString("model"), r.getInt("step"), r.getInt("total_steps"), instant(r, "created_at"),
                    instant(r, "started_at"), instant(r, "finished_at"), r.getInt("attempts"), r.getString("owner"),
                    r.getBoolean("cancel_requested"), result == null ? null : JSON.readValue(result, JobResult.class),
                    error == null ? null : JSON.readValue(error, JobError.class));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("job " + r.getString("id") + " has an unreadable result or error: "
                    + e.getOriginalMessage(), e);
        }
    }

    private static Instant instant(ResultSet r, String column) throws SQLException {
        Timestamp t = r.getTimestamp(column);
        return t == null ? null : t.toInstant();
    }

    private static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(e);
        }
    }

    private static IllegalStateException failure(String what, Exception e) {
        return new JobStoreException("cannot " + what + " in PostgreSQL: " + e.getMessage(), e);
    }
}
