/**
 * The training stage as a service, on HTTP port 8084: health and metrics for now. Training jobs arrive from
 * Kafka ({@code kiln.training.jobs}); the consumer and the trainer are not part of this build, so the
 * {@code kiln_stage_queue_depth{stage="training"}} gauge stays at 0 and readiness reflects only whether the
 * frozen model package it would train against is present.
 */
package dev.kiln.training;
