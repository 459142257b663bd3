package dev.kiln.pipeline.model;

/**
 * What a request that leaves steps, scheduler or guidance unset gets for one of a package's UNets.
 * Fields the package does not set are null, so the caller's own fallback (Stable Diffusion's) applies.
 */
public record SamplingDefaults(Integer steps, String scheduler, Double guidance) {
}
