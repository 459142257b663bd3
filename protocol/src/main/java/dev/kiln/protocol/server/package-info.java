/**
 * The stage interfaces of {@code pipeline} served over gRPC: {@link dev.kiln.protocol.server.EncoderEndpoint},
 * {@link dev.kiln.protocol.server.DenoiserEndpoint} and {@link dev.kiln.protocol.server.DecoderEndpoint} adapt
 * any stage (the in-process ones in the services) to {@code kiln.v1}, with cancellation, deadlines, error
 * statuses and a {@link dev.kiln.protocol.server.StageMonitor} for metrics. Plain grpc-java: the Quarkus
 * services register them, tests and benchmarks host them in a bare server.
 */
package dev.kiln.protocol.server;
