package dev.elbo4j.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The {@code elbo4j} command line: {@code train}, {@code eval}, {@code sample}, {@code info} and {@code baseline}.
 *
 * <p>Exit status: 0 on success, {@value #EXIT_USAGE} for bad usage (an unknown option, a value that is not a number,
 * a size below 1), {@value #EXIT_FAILURE} for any other failure (missing or malformed data, a checkpoint that does
 * not fit, no usable GPU), {@value #EXIT_INTERRUPTED} when training was stopped by Ctrl-C (after writing a
 * checkpoint). Every error is one line on stderr naming the problem; {@code --verbose} adds the stack trace.
 */
@Command(name = "elbo4j", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Train, evaluate and sample variational autoencoders on a GPU (fused CUDA kernels) or the CPU.",
        subcommands = {TrainCommand.class, EvalCommand.class, SampleCommand.class, InfoCommand.class,
            BaselineCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    /** Exit status of a failure that is not a usage error: unreadable data, a bad checkpoint, no GPU. */
    static final int EXIT_FAILURE = 1;
    /** Exit status of bad usage (picocli's default for invalid input). */
    static final int EXIT_USAGE = 2;
    /** Exit status after Ctrl-C stopped training (128 + SIGINT, as a shell reports it). */
    static final int EXIT_INTERRUPTED = 130;

    private final CliEnvironment environment;

    @Spec
    private CommandSpec spec;

    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "On failure, print the stack trace after the one-line message.")
    private boolean verbose;

    private Main(CliEnvironment environment) {
        this.environment = environment;
    }

    /** Runs the command line and exits the JVM with its status. */
    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
        System.exit(execute(args, out, err, CliEnvironment.system()));
    }

    /**
     * Runs the command line without exiting, in this process's environment (the real GPU probe, no terminal).
     *
     * @return the exit status (see the class comment)
     */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        return execute(args, out, err, CliEnvironment.system());
    }

    /** Runs the command line without exiting, in {@code environment} (tests pass their own). */
    static int execute(String[] args, PrintWriter out, PrintWriter err, CliEnvironment environment) {
        Main main = new Main(environment);
        CommandLine commandLine = new CommandLine(main);
        commandLine.setCaseInsensitiveEnumValuesAllowed(true);
        commandLine.setOut(out);
        commandLine.setErr(err);
        commandLine.setParameterExceptionHandler((exception, arguments) -> {
            CommandLine failed = exception.getCommandLine();
            String command = failed.getCommandSpec().qualifiedName();
            failed.getErr().println(command + ": " + oneLine(exception.getMessage()) + " (see '" + command
                    + " --help')");
            if (main.verbose) {
                exception.printStackTrace(failed.getErr());
            }
            failed.getErr().flush();
            return EXIT_USAGE;
        });
        commandLine.setExecutionExceptionHandler((exception, failed, parseResult) -> {
            String command = failed.getCommandSpec().qualifiedName();
            failed.getErr().println(command + ": " + describe(exception)
                    + (main.verbose || isUserError(exception) ? "" : " (--verbose prints the stack trace)"));
            if (main.verbose) {
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

    /** The environment the commands run in. */
    CliEnvironment environment() {
        return environment;
    }

    /** Failures whose message is the whole story: bad data, files, checkpoints, devices. */
    private static boolean isUserError(Exception exception) {
        return exception instanceof CliFailure || exception instanceof java.io.IOException
                || exception instanceof java.io.UncheckedIOException
                || exception instanceof IllegalArgumentException
                || exception instanceof dev.elbo4j.cuda.CudaUnavailableException;
    }

    /** A user error's message, or the kind and message of a defect, on one line. */
    private static String describe(Exception exception) {
        if (isUserError(exception)) {
            return oneLine(exception instanceof java.io.UncheckedIOException unchecked
                    ? unchecked.getCause().getMessage() : exception.getMessage());
        }
        return "unexpected failure: " + oneLine(String.valueOf(exception));
    }

    /**
     * Joins a multi-line message into one line: "what; tried:" followed by "  - place: why" lines and a hint becomes
     * "what; tried: place: why; place: why. hint".
     */
    static String oneLine(String message) {
        if (message == null) {
            return "(no message)";
        }
        StringBuilder line = new StringBuilder();
        for (String part : message.strip().split("\\s*\\n\\s*")) {
            boolean item = part.startsWith("- ");
            String text = item ? part.substring(2) : part;
            if (!line.isEmpty()) {
                char last = line.charAt(line.length() - 1);
                line.append(last == ':' || last == '.' || last == ';' ? " " : item ? "; " : ". ");
            }
            line.append(text);
        }
        return line.toString();
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "Missing a subcommand: try 'elbo4j help'");
    }

    /** The version from the jar manifest's Implementation-Version (absent when run from classes). */
    static final class Version implements IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"elbo4j " + version()};
        }

        static String version() {
            String version = Main.class.getPackage().getImplementationVersion();
            return version == null ? "(development build, no jar manifest)" : version;
        }
    }
}
