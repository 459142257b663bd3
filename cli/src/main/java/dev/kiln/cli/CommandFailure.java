package dev.kiln.cli;

import dev.kiln.pipeline.error.InvalidRequestException;
import dev.kiln.pipeline.error.ModelLoadException;
import dev.kiln.pipeline.error.ModelNotFoundException;
import java.io.PrintWriter;

/** How the commands end on a failure the user can act on: the message on stderr and an exit code per cause. */
final class CommandFailure {
    /** The request (or the options) asked for something the model cannot do. */
    static final int BAD_REQUEST = 2;
    /** The model package (or a file it needs) is missing or broken. */
    static final int BAD_MODEL = 3;

    private CommandFailure() {
    }

    /**
     * Prints {@code e}'s message and returns its exit code.
     *
     * @throws RuntimeException {@code e} itself when it is not one of the failures above (a bug, shown with its trace)
     */
    static int report(PrintWriter err, RuntimeException e) {
        int code;
        if (e instanceof InvalidRequestException || e instanceof ModelNotFoundException) {
            code = BAD_REQUEST;
        } else if (e instanceof ModelLoadException || e instanceof IllegalArgumentException) {
            code = BAD_MODEL;
        } else {
            throw e;
        }
        err.println("error: " + e.getMessage());
        return code;
    }
}
