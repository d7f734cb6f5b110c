package dev.elbo4j.gpu;

import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.cuda.CudaException;
import dev.elbo4j.cuda.CudaRuntime;
import dev.elbo4j.cuda.DeviceProperties;
import dev.elbo4j.gpu.CudaBackend.StepMode;
import dev.elbo4j.nn.Backend;

/**
 * Chooses the backend a run trains on, and says why: {@code auto} takes a usable GPU (device 0: a CUDA driver, a
 * device, cuBLAS and the jar's kernels) and falls back to the CPU backend otherwise; {@code cuda} insists on the
 * GPU and fails with the reason when there is none; {@code cpu} takes the CPU backend.
 *
 * <p>{@code auto} does not take the CPU emulator of the CUDA driver (selected with {@code elbo4j.cuda.library},
 * for tests): it runs the real kernels on the CPU, correctly but far slower than the CPU backend. {@code cuda}
 * takes it when asked.
 */
public final class BackendSelection {
    /** The device name the CPU emulator reports ({@link DeviceProperties#name()}). */
    static final String EMULATOR_NAME = "elbo4j CPU emulator";

    /** What the user asked for. */
    public enum Choice {
        /** A usable GPU, else the CPU. */
        AUTO,
        /** The GPU, or an error saying why not. */
        CUDA,
        /** The CPU backend. */
        CPU;

        /**
         * The choice named {@code name}, ignoring case ("auto", "cuda", "cpu").
         *
         * @throws IllegalArgumentException naming the choices when there is no such one
         */
        public static Choice parse(String name) {
            Objects.requireNonNull(name, "name");
            try {
                return valueOf(name.strip().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown backend '" + name + "': use auto, cuda or cpu", e);
            }
        }
    }

    /**
     * The backend opened and why it was chosen, on one line, e.g. "no usable GPU (no CUDA driver library could be
     * loaded): using cpu (OpenBLAS 0.3.31, 2 threads)" ({@link CudaRuntime#unavailableReason()} has the places
     * tried). Closing it closes the backend.
     */
    public record Selected(Backend backend, Choice asked, String reason) implements AutoCloseable {
        /** Checks the fields. */
        public Selected {
            Objects.requireNonNull(backend, "backend");
            Objects.requireNonNull(asked, "asked");
            Objects.requireNonNull(reason, "reason");
        }

        @Override
        public void close() {
            backend.close();
        }
    }

    /**
     * How {@link #open(Choice, int, GpuProbe)} looks for the GPU. {@link #system()} looks at this machine; a caller's
     * tests may describe another one (a machine without a driver, say) without touching the process's CUDA runtime.
     *
     * @param unavailableReason why there is no GPU for {@link Choice#AUTO} to take, on one or more lines; empty when
     *                          there is one
     * @param opener            opens the CUDA backend; throws {@link CudaException} (or its
     *                          {@link dev.elbo4j.cuda.CudaUnavailableException}) when it cannot
     */
    public record GpuProbe(Supplier<Optional<String>> unavailableReason, Supplier<Backend> opener) {
        /** Checks the fields. */
        public GpuProbe {
            Objects.requireNonNull(unavailableReason, "unavailableReason");
            Objects.requireNonNull(opener, "opener");
        }

        /**
         * This machine: device 0 through {@link CudaRuntime}, not the CPU emulator for {@link Choice#AUTO}, opened as
         * {@link CudaBackend#open} with steps replayed as CUDA graphs.
         */
        public static GpuProbe system() {
            return new GpuProbe(BackendSelection::gpuUnavailableReason, () -> CudaBackend.open(0, StepMode.GRAPH));
        }
    }

    private BackendSelection() {
    }

    /**
     * Opens the backend {@code choice} asks for: the GPU as {@link CudaBackend#open} with steps replayed as CUDA
     * graphs, the CPU as {@link CpuBackend#create()}.
     *
     * @throws dev.elbo4j.cuda.CudaUnavailableException for {@link Choice#CUDA} when no CUDA driver or cuBLAS loads
     * @throws CudaException                            for {@link Choice#CUDA} when the driver refuses the device
     */
    public static Selected open(Choice choice) {
        GpuProbe gpu = GpuProbe.system();
        return open(choice, gpu.unavailableReason(), gpu.opener(), CpuBackend::create);
    }

    /**
     * {@link #open(Choice)} with a CPU backend of {@code cpuThreads} threads ({@link CpuBackend#create(int)}) when
     * the CPU is chosen.
     */
    public static Selected open(Choice choice, int cpuThreads) {
        return open(choice, cpuThreads, GpuProbe.system());
    }

    /**
     * {@link #open(Choice, int)} with the GPU found through {@code gpu} ({@link GpuProbe#system()} for this machine).
     */
    public static Selected open(Choice choice, int cpuThreads, GpuProbe gpu) {
        if (cpuThreads < 1) {
            throw new IllegalArgumentException("the CPU backend's threads must be at least 1 but is " + cpuThreads);
        }
        Objects.requireNonNull(gpu, "gpu");
        return open(choice, gpu.unavailableReason(), gpu.opener(), () -> CpuBackend.create(cpuThreads));
    }

    /** {@link #open(Choice)} with the probes replaced (the tests choose what is found). */
    static Selected open(Choice choice, Supplier<Optional<String>> gpuUnavailable, Supplier<Backend> gpu,
                         Supplier<Backend> cpu) {
        Objects.requireNonNull(choice, "choice");
        switch (choice) {
            case CPU -> {
                Backend backend = cpu.get();
                return new Selected(backend, choice, "the CPU was asked for: " + backend.description());
            }
            case CUDA -> {
                Backend backend = gpu.get();
                return new Selected(backend, choice, "CUDA was asked for: " + backend.description());
            }
            default -> {
                Optional<String> unavailable = gpuUnavailable.get();
                if (unavailable.isPresent()) {
                    return fallBack(cpu, "no usable GPU (" + firstLine(unavailable.get()) + ")");
                }
                Backend backend;
                try {
                    backend = gpu.get();
                } catch (CudaException | IllegalStateException e) {
                    return fallBack(cpu, "the GPU could not be used (" + firstLine(e.getMessage()) + ")");
                }
                return new Selected(backend, choice, "a GPU was found: " + backend.description());
            }
        }
    }

    private static Selected fallBack(Supplier<Backend> cpu, String why) {
        Backend backend = cpu.get();
        return new Selected(backend, Choice.AUTO, why + ": using " + backend.description());
    }

    /**
     * The first line of a reason, without the "; tried:" that introduces the list of places a library was looked
     * for ({@link dev.elbo4j.cuda.CudaUnavailableException}): a reason fits a log line.
     */
    private static String firstLine(String message) {
        String first = String.valueOf(message).lines().findFirst().orElse("").strip();
        return first.endsWith("; tried:") ? first.substring(0, first.length() - "; tried:".length()) : first;
    }

    /**
     * Why device 0 is not a GPU to train on: no CUDA driver or device (the runtime's reason), or the CPU emulator.
     * Empty when it is.
     */
    static Optional<String> gpuUnavailableReason() {
        Optional<String> unavailable = CudaRuntime.unavailableReason();
        if (unavailable.isPresent()) {
            return unavailable;
        }
        DeviceProperties device = CudaRuntime.get().device(0);
        if (EMULATOR_NAME.equals(device.name())) {
            return Optional.of("the CUDA library is the CPU emulator, which is for tests: ask for cuda to use it");
        }
        return Optional.empty();
    }
}
