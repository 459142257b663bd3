/**
 * Plumbing every stage service shares, so that each service is only its stage.
 *
 * <ul>
 *   <li>{@link dev.kiln.service.StageState}: which stage this process is and the model catalog it serves,
 *       loaded in the background; calls before it is loaded are answered UNAVAILABLE.</li>
 *   <li>{@link dev.kiln.service.ModelReadinessCheck}: {@code /q/health/ready} is UP only once the models are
 *       loaded, so Kubernetes routes no traffic to a pod that would answer UNAVAILABLE.</li>
 *   <li>{@link dev.kiln.service.StageQueue}: the {@code kiln_stage_queue_depth} gauge that KEDA scales on, the
 *       {@code kiln_stage_request_seconds} timer and {@code kiln_requests_rejected_total}, fed by the
 *       gRPC endpoints of {@code dev.kiln.protocol.server}.</li>
 *   <li>{@link dev.kiln.service.StageExecutor}: the threads the endpoints run blocking model calls on.</li>
 * </ul>
 *
 * A plain jar of CDI beans with a Jandex index; each service names its stage in {@code kiln.stage.name}.
 */
package dev.kiln.service;
