/**
 * Asynchronous generation jobs: a job is accepted into a bounded queue, run by a {@link dev.kiln.gateway.jobs.JobRunner}
 * through the same pipeline as the synchronous API, and kept in a {@link dev.kiln.gateway.jobs.JobStore}: in memory in
 * embedded mode, in PostgreSQL in distributed mode, where a restarted gateway picks up what its predecessor accepted.
 * Plain Java (no Quarkus) so a store and a runner can be started and stopped in a test like a gateway process.
 */
package dev.kiln.gateway.jobs;
