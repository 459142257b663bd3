-- Jobs of the asynchronous API (distributed mode). One row per job; a runner claims a queued row with
-- FOR UPDATE SKIP LOCKED, so gateway replicas sharing this database never run the same job twice.
CREATE TABLE kiln_job (
    id               text        PRIMARY KEY,
    status           text        NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    request          jsonb       NOT NULL,
    model            text        NOT NULL,
    step             integer     NOT NULL DEFAULT 0,
    total_steps      integer     NOT NULL,
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    attempts         integer     NOT NULL DEFAULT 0,
    owner            text,
    heartbeat_at     timestamptz,
    cancel_requested boolean     NOT NULL DEFAULT false,
    result           jsonb,
    error            jsonb
);

CREATE INDEX kiln_job_queue ON kiln_job (created_at, id) WHERE status = 'queued';
CREATE INDEX kiln_job_running ON kiln_job (owner) WHERE status = 'running';

-- The pictures of succeeded jobs, kept apart so status polls do not read them.
CREATE TABLE kiln_job_image (
    job_id      text    NOT NULL REFERENCES kiln_job (id) ON DELETE CASCADE,
    image_index integer NOT NULL,
    png         bytea   NOT NULL,
    PRIMARY KEY (job_id, image_index)
);
