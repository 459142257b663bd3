/**
 * Plain tensors that travel between stages: a float array and a shape, nothing more.
 * ONNX Runtime tensors never leave the classes that run sessions.
 */
package dev.kiln.pipeline.tensor;
