/**
 * The errors Kiln's stages raise, one class per thing a caller can act on: a request it must fix
 * ({@link dev.kiln.pipeline.error.InvalidRequestException}), a model that is not there
 * ({@link dev.kiln.pipeline.error.ModelNotFoundException}) or not loadable
 * ({@link dev.kiln.pipeline.error.ModelLoadException}), a full queue to retry later
 * ({@link dev.kiln.pipeline.error.OverloadedException}) and a stage that cannot serve now
 * ({@link dev.kiln.pipeline.error.StageUnavailableException}). Services map each to one HTTP or gRPC
 * status. This package depends on nothing else in Kiln.
 */
package dev.kiln.pipeline.error;
