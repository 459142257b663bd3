package dev.kiln.pipeline.error;

/**
 * A request asks for something Kiln cannot do as asked; the message says what is wrong and what is
 * allowed, and {@link #param()} names the request field (as the public API spells it).
 */
public class InvalidRequestException extends RuntimeException {
    private final String param;

    public InvalidRequestException(String param, String message) {
        super(message);
        this.param = param;
    }

    public String param() {
        return param;
    }
}
