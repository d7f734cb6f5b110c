package dev.elbo4j.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;

import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.gpu.BackendSelection.Choice;
import dev.elbo4j.gpu.BackendSelection.Selected;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code elbo4j info}: what this machine offers elbo4j, and which backend a run would use. */
@Command(name = "info", mixinStandardHelpOptions = true,
        header = "Show the Java runtime, the GPUs and libraries found, and the backend a run would use.",
        description = "Prints the Java version; the CUDA driver, each GPU (name, compute capability, memory) and "
                + "whether this jar's kernels load on it; the cuBLAS library loaded and where from; or, when no GPU "
                + "is usable, exactly why. Then the CPU backend (its BLAS and threads), and which backend --device "
                + "auto trains on and why.")
final class InfoCommand implements Callable<Integer> {

    @Spec
    private CommandSpec spec;

    @ParentCommand
    private Main main;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.println("elbo4j      " + Main.Version.version());
        out.println("Java        " + System.getProperty("java.runtime.version") + " ("
                + System.getProperty("java.vendor") + ", " + System.getProperty("java.home") + ")");
        GpuReport gpu = main.environment().gpuReport().get();
        if (gpu.driver() != null) {
            out.println("CUDA driver " + gpu.driver());
            for (GpuReport.Gpu device : gpu.gpus()) {
                var p = device.properties();
                out.println(String.format(Locale.ROOT, "GPU %d       %s, compute capability %d.%d (%s), %.1f GiB, %d SMs",
                        p.ordinal(), p.name(), p.computeMajor(), p.computeMinor(), p.architecture(),
                        p.totalMemoryBytes() / (double) (1L << 30), p.multiprocessorCount()));
                out.println("  kernels   " + (device.usable() ? "this jar's kernels load on it" : device.kernels()));
            }
            out.println("cuBLAS      " + gpu.cublas());
        }
        if (gpu.usable()) {
            out.println("GPU         usable: --device cuda trains on GPU 0 ("
                    + gpu.gpus().getFirst().properties().name() + ")");
        } else {
            out.println("GPU         none usable: " + gpu.unusableReason().replace("\n", "\n            "));
        }
        try (Selected cpu = Devices.open(Choice.CPU, null, main.environment())) {
            out.println("CPU backend " + cpu.backend().description());
        }
        try (Selected auto = Devices.open(Choice.AUTO, null, main.environment())) {
            out.println("--device auto trains on " + (auto.backend() instanceof CpuBackend ? "the CPU" : "the GPU")
                    + ": " + auto.reason());
        }
        return 0;
    }
}
