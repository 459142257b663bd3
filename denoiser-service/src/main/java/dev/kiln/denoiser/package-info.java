/**
 * The denoising stage as a service: {@code kiln.v1.Denoiser} on gRPC (port 9082), health and metrics on
 * HTTP (port 8082). Requests are validated and counted here; the batched denoising loop lives in
 * kiln-pipeline, which this service does not include yet, so a valid request for the served model is
 * answered UNIMPLEMENTED rather than with latents that no UNet produced.
 */
package dev.kiln.denoiser;
