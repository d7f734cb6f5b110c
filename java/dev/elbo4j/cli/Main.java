package dev.elbo4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The {@code elbo4j} command line. Subcommands: {@code baseline} (the ELBO of an independent-pixel model, the
 * bar every trained VAE must clear). User errors end with a message on stderr and a non-zero exit status, never a
 * stack trace: a missing directory or a malformed file one line and status 1, a bad option the usage and status 2.
 */
@Command(name = "elbo4j", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Variational autoencoders' evidence lower bound, with fused CUDA kernels and a CPU reference.",
        subcommands = {BaselineCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    /** Exit status of a failure that is not a usage error (picocli uses 2 for those): unreadable data, say. */
    static final int EXIT_FAILURE = 1;

    @Spec
    private CommandSpec spec;

    /** Only {@link #execute} makes one: the entry points are static. */
    private Main() {
    }

    /** Runs the command line and exits the JVM with its status. */
    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
        System.exit(execute(args, out, err));
    }

    /**
     * Runs the command line without exiting.
     *
     * @return the exit status: 0 on success, 2 for a usage error, 1 for any other failure
     */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine commandLine = new CommandLine(new Main());
        commandLine.setCaseInsensitiveEnumValuesAllowed(true);
        commandLine.setOut(out);
        commandLine.setErr(err);
        commandLine.setExecutionExceptionHandler((exception, failed, parseResult) -> {
            String command = failed.getCommandSpec().qualifiedName();
            if (exception instanceof IOException || exception instanceof IllegalArgumentException) {
                failed.getErr().println(command + ": " + exception.getMessage());
            } else {
                // Not a user error but a defect: keep the trace for the bug report.
                failed.getErr().println(command + ": unexpected failure: " + exception);
                exception.printStackTrace(failed.getErr());
            }
            failed.getErr().flush();
            return EXIT_FAILURE;
        });
        int status = commandLine.execute(args);
        out.flush();
        err.flush();
        return status;
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "Missing a subcommand: try 'elbo4j help'");
    }

    /** The version from the jar manifest's Implementation-Version (absent when run from classes). */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Main.class.getPackage().getImplementationVersion();
            return new String[] {"elbo4j " + (version == null ? "(development build, no jar manifest)" : version)};
        }
    }
}
