/**
 * The stage interfaces of {@code pipeline} implemented by gRPC clients: {@link dev.kiln.protocol.client.GrpcEncoderStage},
 * {@link dev.kiln.protocol.client.GrpcDenoiserStage} and {@link dev.kiln.protocol.client.GrpcDecoderStage}, each
 * over a {@link dev.kiln.protocol.client.StageChannel}. A {@code GenerationPipeline} built on them is the
 * distributed wiring; built on the {@code Local*} stages it is the embedded one, and the two give the same bytes.
 */
package dev.kiln.protocol.client;
