/**
 * Model packages on disk and the ONNX Runtime sessions that run their components.
 *
 * <p>{@link dev.kiln.pipeline.model.ModelPackage} reads the diffusers ONNX layout plus
 * {@code kiln.json}; {@link dev.kiln.pipeline.model.OnnxModel} wraps one session and converts inputs to
 * whatever dtype the export declared; {@link dev.kiln.pipeline.model.PinnedTensor} is native memory a caller
 * keeps from run to run (the denoiser's UNet inputs and output); {@link dev.kiln.pipeline.model.OnnxSignature} reads
 * what an ONNX file declares without its weights, for packages that are
 * {@linkplain dev.kiln.pipeline.model.ModelPackage#describe described only} (the distributed gateway). This is the lowest layer: nothing here imports the tokenizer,
 * schedulers or stages.
 */
package dev.kiln.pipeline.model;
