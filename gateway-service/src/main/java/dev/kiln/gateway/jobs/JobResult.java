package dev.kiln.gateway.jobs;

import java.util.List;

/**
 * What a finished job produced, without the pictures themselves (the store keeps those apart, so a
 * status poll does not carry megabytes).
 *
 * @param created        seconds since the epoch, as OpenAI's {@code created}
 * @param responseFormat {@code url} or {@code b64_json}, as the request asked
 */
public record JobResult(long created, String responseFormat, List<Image> images, List<String> warnings) {

    /** One picture: its position in the request, the seed that reproduces it alone, the prompt used. */
    public record Image(int index, long seed, String revisedPrompt) {
    }
}
