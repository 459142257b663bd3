package dev.kiln.gateway.jobs;

/**
 * Why a job failed, in OpenAI's error fields plus the HTTP status the synchronous API would have answered.
 */
public record JobError(int status, String message, String type, String param, String code) {
}
