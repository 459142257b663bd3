package dev.kiln.gateway;

import com.fasterxml.jackson.annotation.JsonInclude;

/** OpenAI's error body: {@code {"error": {"message", "type", "param", "code"}}}. */
public record ApiError(Body error) {

    @JsonInclude(JsonInclude.Include.ALWAYS)
    public record Body(String message, String type, String param, String code) {
    }

    public static ApiError of(String message, String type, String param, String code) {
        return new ApiError(new Body(message, type, param, code));
    }
}
