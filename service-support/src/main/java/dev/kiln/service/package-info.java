/**
 * Plumbing every stage service shares, so that each service is only its stage.
 *
 * <ul>
 *   <li>{@link dev.kiln.service.StageState}: which stage this process is and which model it serves;
 *       gRPC calls ask it for the model and get UNAVAILABLE or NOT_FOUND when it cannot serve them.</li>
 *   <li>{@link dev.kiln.service.ModelReadinessCheck}: {@code /q/health/ready} is UP only with a model,
 *       so Kubernetes routes no traffic to a pod that would answer UNAVAILABLE.</li>
 *   <li>{@link dev.kiln.service.StageQueue}: the {@code kiln_stage_queue_depth} gauge that KEDA scales on
 *       and the {@code kiln_stage_request_seconds} timer, both fed by the requests actually in flight.</li>
 *   <li>{@link dev.kiln.service.RequestChecks}: INVALID_ARGUMENT for malformed requests, field by field.</li>
 * </ul>
 *
 * A plain jar of CDI beans with a Jandex index; each service names its stage in
 * {@code kiln.stage.name} and its model package in {@code kiln.model.dir}.
 */
package dev.kiln.service;
