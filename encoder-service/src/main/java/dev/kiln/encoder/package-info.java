/**
 * The text encoding stage as a service: {@code kiln.v1.Encoder} on gRPC (port 9081), health and metrics on
 * HTTP (port 8081). Requests are validated and counted here; the tokenizer and text encoder they run on
 * live in kiln-pipeline, which this service does not include yet, so a valid request for the served model
 * is answered UNIMPLEMENTED rather than with made-up hidden states.
 */
package dev.kiln.encoder;
