/**
 * The {@code kiln} command line: {@code kiln generate} runs the pipeline in this process on a model
 * package (the shipped default unless told otherwise) and writes PNGs, with a progress bar;
 * {@code kiln eval} measures a package with its evaluator and prints the model card's table;
 * {@code kiln samples} writes the model card's sample grids.
 * {@code kiln serve} is handled by the launcher script, which starts the gateway in embedded mode.
 */
package dev.kiln.cli;
