/**
 * The three serving stages a generation passes through — {@link dev.kiln.pipeline.stage.EncoderStage},
 * {@link dev.kiln.pipeline.stage.DenoiserStage} and {@link dev.kiln.pipeline.stage.DecoderStage} — and
 * their in-process implementations.
 *
 * <p>The same interfaces are implemented by gRPC clients in distributed mode, so one contract test
 * suite runs against both wirings. Everything a stage receives is plain data (tensors as float arrays
 * with shapes, seeds, names), which is exactly what crosses the wire.
 */
package dev.kiln.pipeline.stage;
