package dev.kiln.pipeline;

/**
 * One picture of a result.
 *
 * @param index      position in the request
 * @param seed       the seed that reproduces this picture alone (request seed + index)
 * @param png        the PNG file, generation parameters included
 * @param parameters the generation parameters as written into the PNG
 */
public record GeneratedImage(int index, long seed, byte[] png, String parameters) {
}
