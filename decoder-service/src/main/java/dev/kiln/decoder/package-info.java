/**
 * The decoding stage as a service: {@code kiln.v1.Decoder} on gRPC (port 9083), health and metrics on
 * HTTP (port 8083). Requests are validated and counted here; the VAE, the consistency decoder and PNG
 * encoding live in kiln-pipeline, which this service does not include yet, so a valid request for the
 * served model is answered UNIMPLEMENTED rather than with images no decoder produced.
 */
package dev.kiln.decoder;
