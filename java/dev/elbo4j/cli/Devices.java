package dev.elbo4j.cli;

import java.util.function.Supplier;

import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.nn.Backend;

/** Chooses and opens the backend a command runs on ({@code --device auto|cuda|cpu}), and says why. */
final class Devices {

    /** {@code --device}. */
    enum Choice {
        /** A usable GPU, else the CPU. */
        AUTO,
        /** The GPU, or a failure saying why there is none. */
        CUDA,
        /** The CPU backend. */
        CPU
    }

    /**
     * An open backend and why it was chosen.
     *
     * @param backend the backend (the caller closes it)
     * @param reason  why this one: "--device cpu", "no usable GPU: ...", ...
     */
    record Opened(Backend backend, String reason) implements AutoCloseable {
        /** "cpu (OpenBLAS 0.3.31, 2 threads)". */
        String description() {
            return backend.description();
        }

        @Override
        public void close() {
            backend.close();
        }
    }

    private Devices() {
    }

    /**
     * Opens the backend {@code choice} asks for.
     *
     * @param threads the CPU backend's threads (null: one per processor)
     * @param gpu     probes the GPU (called only when the choice needs it)
     * @throws CliFailure for {@code cuda} without a usable GPU, saying why
     */
    static Opened open(Choice choice, Integer threads, Supplier<GpuReport> gpu) {
        return switch (choice) {
            case CPU -> new Opened(cpu(threads), "as asked (--device cpu)");
            case CUDA -> {
                GpuReport report = gpu.get();
                if (!report.usable()) {
                    throw new CliFailure("--device cuda: no usable GPU: " + Main.oneLine(report.unusableReason())
                            + " ('elbo4j info' tells more; --device cpu runs on the CPU)");
                }
                throw new CliFailure("--device cuda: this build has no CUDA training backend yet (the GPU "
                        + report.gpus().getFirst().properties().name() + " is usable for the kernels); use --device cpu");
            }
            case AUTO -> new Opened(cpu(threads), whyNotGpu(gpu.get()));
        };
    }

    /** Why {@code --device auto} does not train on the GPU of {@code report}. */
    static String whyNotGpu(GpuReport report) {
        if (!report.usable()) {
            return "no usable GPU (" + firstLine(report.unusableReason()) + ")";
        }
        if (report.emulator()) {
            return "the CUDA library is elbo4j's CPU emulator, which is for tests";
        }
        return "this build has no CUDA training backend yet";
    }

    private static CpuBackend cpu(Integer threads) {
        return threads == null ? CpuBackend.create() : CpuBackend.create(threads);
    }

    /** The first line of a message, without the "; tried:" that introduces a list of places. */
    static String firstLine(String message) {
        String first = message.lines().findFirst().orElse(message);
        return first.endsWith("; tried:") ? first.substring(0, first.length() - "; tried:".length()) : first;
    }
}
