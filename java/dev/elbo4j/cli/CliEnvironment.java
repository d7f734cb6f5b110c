package dev.elbo4j.cli;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * What the commands take from the process rather than from their options, so that tests can supply their own.
 *
 * @param gpu               probes the CUDA driver, cuBLAS and the jar's kernels (for {@code info} and
 *                          {@code --device}); called at most once per command
 * @param stderrIsTerminal  whether standard error is a terminal: progress is then a redrawn bar, otherwise plain
 *                          lines (CI logs and files get no carriage returns)
 * @param progressInterval  the least time between two plain progress lines
 * @param interrupts        how Ctrl-C reaches a training run
 */
record CliEnvironment(Supplier<GpuReport> gpu, boolean stderrIsTerminal, Duration progressInterval,
                      Interrupts interrupts) {

    /** The system property that the launcher sets to {@code true} when its standard error is a terminal. */
    static final String STDERR_TERMINAL_PROPERTY = "elbo4j.stderr.terminal";

    CliEnvironment {
        Objects.requireNonNull(gpu, "gpu");
        Objects.requireNonNull(progressInterval, "progressInterval");
        Objects.requireNonNull(interrupts, "interrupts");
    }

    /**
     * This process: the real GPU probe; standard error is a terminal when the launcher says so (the JDK can only
     * tell for standard input and output together), else when {@link java.io.Console#isTerminal()}; a plain
     * progress line every 10 seconds; Ctrl-C through a shutdown hook.
     */
    static CliEnvironment system() {
        String told = System.getProperty(STDERR_TERMINAL_PROPERTY);
        boolean terminal = told != null ? Boolean.parseBoolean(told)
                : System.console() != null && System.console().isTerminal();
        return new CliEnvironment(GpuReport::probe, terminal, Duration.ofSeconds(10), Interrupts.shutdownHook());
    }
}
