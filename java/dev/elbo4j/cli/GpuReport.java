package dev.elbo4j.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import dev.elbo4j.cuda.Cublas;
import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaException;
import dev.elbo4j.cuda.CudaRuntime;
import dev.elbo4j.cuda.CudaUnavailableException;
import dev.elbo4j.cuda.DeviceProperties;

/**
 * What this machine offers the CUDA backend, for {@code info}: the driver, the GPUs, cuBLAS, and whether the jar's
 * kernels load on each GPU; or why there is no usable GPU. ({@link dev.elbo4j.gpu.BackendSelection} chooses the
 * backend a run takes.)
 *
 * @param unusableReason null when the first GPU can train; otherwise why not (no driver library, no device, no
 *                       cuBLAS, a driver too old, no kernels for this GPU), possibly over several lines
 * @param driver         the driver library and the CUDA version it implements (null when none loaded)
 * @param gpus           the devices the driver reports, with the kernel check of each
 * @param cublas         the cuBLAS library loaded, where from and its version; or why none loaded (null when the
 *                       driver did not load)
 */
record GpuReport(String unusableReason, String driver, List<Gpu> gpus, String cublas) {

    /**
     * One device.
     *
     * @param properties what the driver reports
     * @param kernels    "loaded" when the jar's kernels load on it, else why they do not
     * @param usable     whether the kernels load
     */
    record Gpu(DeviceProperties properties, String kernels, boolean usable) {
    }

    GpuReport {
        gpus = List.copyOf(gpus);
    }

    /** Whether the first GPU can train. */
    boolean usable() {
        return unusableReason == null;
    }

    /** A report of no usable GPU, for {@code reason}. */
    static GpuReport unusable(String reason) {
        return new GpuReport(Objects.requireNonNull(reason, "reason"), null, List.of(), null);
    }

    /**
     * Looks at this machine through {@link CudaRuntime}: loads the driver, lists the devices, loads cuBLAS on the
     * first device and the jar's kernels on each. Never throws for a missing piece: it becomes the reason.
     */
    static GpuReport probe() {
        CudaRuntime runtime;
        try {
            runtime = CudaRuntime.get();
        } catch (CudaUnavailableException e) {
            return unusable(e.getMessage());
        }
        int version = runtime.driverVersion();
        String driver = "CUDA " + version / 1000 + "." + version % 1000 / 10 + " ("
                + describedLine(runtime, "CUDA driver library: ") + ")";
        List<Gpu> gpus = new ArrayList<>();
        String cublas;
        String reason = null;
        for (int ordinal = 0; ordinal < runtime.deviceCount(); ordinal++) {
            DeviceProperties properties = runtime.device(ordinal);
            try (CudaContext context = runtime.openContext(ordinal)) {
                context.kernels();
                gpus.add(new Gpu(properties, "loaded", true));
            } catch (CudaException e) {
                gpus.add(new Gpu(properties, Main.oneLine(e.getMessage()), false));
            }
        }
        try (CudaContext context = runtime.openContext(0); Cublas handle = context.createCublas(null)) {
            int v = handle.version();
            cublas = describedLine(runtime, "cuBLAS: ") + ", version " + v / 10000 + "." + v / 100 % 100 + "."
                    + v % 100;
        } catch (CudaUnavailableException e) {
            cublas = "none: " + Main.oneLine(e.getMessage());
            reason = "no cuBLAS library could be loaded: " + e.getMessage();
        }
        Gpu first = gpus.getFirst();
        if (reason == null && !first.usable()) {
            reason = "the jar's kernels do not load on GPU 0 (" + first.properties().name() + ", "
                    + first.properties().architecture() + "): " + first.kernels();
        }
        return new GpuReport(reason, driver, gpus, cublas);
    }

    /** The rest of the line of {@link CudaRuntime#describe()} that starts with {@code label}. */
    private static String describedLine(CudaRuntime runtime, String label) {
        return runtime.describe().lines().filter(line -> line.startsWith(label))
                .map(line -> line.substring(label.length())).findFirst().orElse("unknown");
    }
}
