/**
 * Kiln's gateway: the public REST API. In embedded mode (the only mode so far) it runs the whole
 * {@link dev.kiln.pipeline.GenerationPipeline} in this process: no Kafka, no database, the shipped model.
 * Resources map requests to the pipeline and its errors to OpenAI's error shape; nothing here knows
 * about tensors.
 */
package dev.kiln.gateway;
