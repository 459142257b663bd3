/**
 * Kiln's pipeline: a prompt to PNG pictures with ONNX Runtime, the way Stable Diffusion pipelines do it.
 *
 * <p>Start at {@link dev.kiln.pipeline.GenerationPipeline}: build it {@linkplain
 * dev.kiln.pipeline.GenerationPipeline#embedded embedded} over a {@link dev.kiln.pipeline.model.ModelCatalog},
 * then pass it {@link dev.kiln.pipeline.GenerationRequest}s. The packages below are layered, lowest first:
 * {@code error}, {@code tensor}, {@code noise}, {@code image}, {@code scheduler}, {@code model} (packages
 * and ONNX sessions), {@code text} (tokenizer, text encoder), {@code denoise} (UNet and iteration-level
 * batching), {@code decode} (VAE), {@code stage} (the serving stages and their in-process forms), and this
 * package on top. A lower package never imports a higher one. No framework is used here; services adapt
 * this library to gRPC, HTTP, Kafka and metrics.
 */
package dev.kiln.pipeline;
