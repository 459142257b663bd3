-- GET /v1/jobs pages through jobs newest first; without this it would sort the whole table per page.
CREATE INDEX kiln_job_newest ON kiln_job (created_at DESC, id DESC);
