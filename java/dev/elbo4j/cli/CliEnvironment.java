package dev.elbo4j.cli;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Supplier;

import dev.elbo4j.gpu.BackendSelection;

/**
 * What the commands take from the process rather than from their options, so that tests can supply their own.
 *
 * @param gpuReport         lists the CUDA driver, the GPUs, cuBLAS and whether the jar's kernels load (for
 *                          {@code info}); called at most once per command
 * @param gpuProbe          how {@link BackendSelection} finds the GPU for {@code --device}
 * @param stderrIsTerminal  whether standard error is a terminal: progress is then a redrawn bar, otherwise plain
 *                          lines (CI logs and files get no carriage returns)
 * @param progressInterval  the least time between two plain progress lines
 * @param interrupts        how Ctrl-C reaches a training run
 */
record CliEnvironment(Supplier<GpuReport> gpuReport, BackendSelection.GpuProbe gpuProbe, boolean stderrIsTerminal,
                      Duration progressInterval, Interrupts interrupts) {

    CliEnvironment {
        Objects.requireNonNull(gpuReport, "gpuReport");
        Objects.requireNonNull(gpuProbe, "gpuProbe");
        Objects.requireNonNull(progressInterval, "progressInterval");
        Objects.requireNonNull(interrupts, "interrupts");
    }

    /**
     * This process: the real GPU report and probe; whether standard error is a terminal from {@link Terminal}
     * (isatty); a plain progress line every 10 seconds; Ctrl-C through a shutdown hook.
     */
    static CliEnvironment system() {
        return new CliEnvironment(GpuReport::probe, BackendSelection.GpuProbe.system(),
                Terminal.isTerminal(Terminal.STANDARD_ERROR), Duration.ofSeconds(10), Interrupts.shutdownHook());
    }
}
