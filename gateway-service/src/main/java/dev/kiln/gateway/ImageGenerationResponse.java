package dev.kiln.gateway;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * OpenAI's response shape; {@code seed} per image and {@code warnings} are Kiln's additions (clients
 * that do not know them ignore them).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ImageGenerationResponse(long created, List<Item> data, List<String> warnings) {

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Item(String url, @JsonProperty("b64_json") String b64Json,
                       @JsonProperty("revised_prompt") String revisedPrompt, long seed) {
    }
}
