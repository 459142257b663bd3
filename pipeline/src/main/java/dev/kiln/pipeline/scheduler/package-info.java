/**
 * Samplers, modelled on diffusers' schedulers: one {@link dev.kiln.pipeline.scheduler.Scheduler} per
 * file (DDIM, Euler, DPM-Solver++ 2M, LCM, one-step), each built from a model package's
 * {@code scheduler_config.json} ({@link dev.kiln.pipeline.scheduler.SchedulerConfig}) and chosen by name
 * through {@link dev.kiln.pipeline.scheduler.Schedulers}.
 *
 * <p>Schedulers are immutable and shared; each image gets its own
 * {@link dev.kiln.pipeline.scheduler.SamplingRun}, which holds the per-image state (timesteps,
 * multistep history) and is confined to one thread at a time. That split is what lets the denoise loop
 * batch images at different steps of different samplers into one UNet call. Arithmetic is in double;
 * samples cross the API as float arrays.
 *
 * <p>The reference trajectories in the tests come from {@code models/recipes/scheduler_reference.py},
 * an independent numpy statement of the same samplers.
 */
package dev.kiln.pipeline.scheduler;
