/**
 * Measuring a model package's quality ({@code kiln eval}): pictures for a fixed prompt set
 * ({@link dev.kiln.pipeline.eval.ImageSampler}), judged by the package's evaluator network against caption
 * embeddings ({@link dev.kiln.pipeline.eval.Evaluator}, {@link dev.kiln.pipeline.eval.CaptionEmbedder}):
 * prompt retrieval, emoji-FD ({@link dev.kiln.pipeline.eval.FrechetDistance}, with its matrix square
 * root from {@link dev.kiln.pipeline.eval.SymmetricEigen}), style accuracy and reconstruction PSNR.
 */
package dev.kiln.pipeline.eval;
