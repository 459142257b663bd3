/**
 * Pictures: 8-bit RGB images, deterministic PNG encoding with generation parameters in a text chunk,
 * and reading init images.
 */
package dev.kiln.pipeline.image;
