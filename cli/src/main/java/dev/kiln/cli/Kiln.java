package dev.kiln.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code kiln} command. */
@Command(name = "kiln", mixinStandardHelpOptions = true, version = "kiln 0.1.0",
        description = "Serve and run text-to-image diffusion models.",
        subcommands = {GenerateCommand.class, EvalCommand.class, SamplesCommand.class, CommandLine.HelpCommand.class})
public final class Kiln implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    static CommandLine commandLine() {
        return new CommandLine(new Kiln());
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}
