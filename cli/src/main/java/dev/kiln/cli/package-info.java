/**
 * The {@code kiln} command line: {@code kiln generate} runs the pipeline in this process on a model
 * package (the shipped default unless told otherwise) and writes PNGs, with a progress bar.
 * {@code kiln serve} is handled by the launcher script, which starts the gateway in embedded mode.
 */
package dev.kiln.cli;
