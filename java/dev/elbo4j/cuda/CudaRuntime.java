package dev.elbo4j.cuda;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Optional;

/**
 * The process-wide CUDA backend: the driver library (and, once a {@link Cublas} is created, cuBLAS), bound
 * through the Foreign Function &amp; Memory API.
 *
 * <h2>How the libraries are found</h2>
 * If system property {@code elbo4j.cuda.library} is non-blank (else environment variable
 * {@code ELBO4J_CUDA_LIBRARY}), that one library provides both the driver and the cuBLAS functions: this is
 * how the CPU emulator ({@code target/native/libelbo4j-cudaemu.so}) is selected. Otherwise the driver is
 * {@code libcuda.so.1} from the system loader, and cuBLAS ({@code libcublas.so.13}, then {@code .12}) is
 * searched, when first needed, in {@code ELBO4J_CUDA_LIBS} (a path list), {@code $CUDA_HOME/lib64},
 * {@code $CUDA_PATH/lib64}, {@code /usr/local/cuda/lib64} and then the system loader. A machine with a driver
 * but no cuBLAS can still run kernels. Nothing else in elbo4j depends on which library was chosen.
 *
 * <h2>Threads</h2>
 * The runtime and every object it creates may be used from any thread: each operation makes its context
 * current on the calling thread first (a cheap {@code cuCtxGetCurrent} check). Closing an object while
 * another thread uses it is safe: the close waits for the calls under way, later calls throw
 * {@link IllegalStateException} (see {@link DeviceBuffer}, "Closing").
 */
public final class CudaRuntime {
    /**
     * The oldest driver that loads the jar's kernels, as {@link #driverVersion()} encodes it: native/build-kernels.sh
     * compiles them with nvcc 13, whose PTX and machine code need a driver for CUDA 13.0 (NVIDIA R580) or newer.
     */
    public static final int REQUIRED_DRIVER_VERSION = 13000;

    private static final Object LOCK = new Object();
    private static CudaRuntime instance;
    private static CudaUnavailableException failure;

    private final LibraryDiscovery discovery;
    private final LibraryDiscovery.Loaded driverLibrary;
    private final DriverApi driver;
    private final int driverVersion;
    private final int deviceCount;
    private CublasApi cublas;
    private CudaUnavailableException cublasFailure;

    private CudaRuntime(LibraryDiscovery discovery, LibraryDiscovery.Loaded driverLibrary, DriverApi driver,
                        int driverVersion, int deviceCount) {
        this.discovery = discovery;
        this.driverLibrary = driverLibrary;
        this.driver = driver;
        this.driverVersion = driverVersion;
        this.deviceCount = deviceCount;
    }

    /**
     * The runtime, discovering and binding the libraries on first use (once per process; a failure is
     * remembered and rethrown).
     *
     * @throws CudaUnavailableException listing every place tried when no usable driver is found, when it lacks
     *                                  functions elbo4j needs, or when it reports no device
     */
    public static CudaRuntime get() {
        synchronized (LOCK) {
            if (instance == null && failure == null) {
                try {
                    instance = open(LibraryDiscovery.fromEnvironment());
                } catch (CudaUnavailableException e) {
                    failure = e;
                }
            }
            if (failure != null) {
                throw new CudaUnavailableException(failure);
            }
            return instance;
        }
    }

    /** Why {@link #get()} fails, or empty when the backend is usable. Never throws. */
    public static Optional<String> unavailableReason() {
        try {
            get();
            return Optional.empty();
        } catch (CudaUnavailableException e) {
            return Optional.of(e.getMessage());
        }
    }

    /** Loads and initializes a runtime from explicit discovery settings (the process-wide one, or a test's). */
    static CudaRuntime open(LibraryDiscovery discovery) {
        LibraryDiscovery.Loaded loaded = discovery.loadDriver();
        String library = loaded.candidate().description();
        DriverApi driver = new DriverApi(loaded.symbols(), library);
        try (Arena arena = Arena.ofConfined()) {
            driver.check(driver.init(0), "cuInit");
            MemorySegment value = arena.allocate(JAVA_INT);
            driver.check(driver.driverGetVersion(value), "cuDriverGetVersion");
            int version = value.get(JAVA_INT, 0);
            driver.check(driver.deviceGetCount(value), "cuDeviceGetCount");
            int count = value.get(JAVA_INT, 0);
            if (count == 0) {
                throw new CudaUnavailableException("the CUDA driver reports no device",
                        List.of(library + ": cuDeviceGetCount returned 0"), "");
            }
            return new CudaRuntime(discovery, loaded, driver, version, count);
        } catch (CudaUnavailableException e) {
            throw e;
        } catch (CudaException e) {
            throw new CudaUnavailableException(e, library);
        }
    }

    /** Number of CUDA devices the driver sees (at least 1). */
    public int deviceCount() {
        return deviceCount;
    }

    /** The driver's CUDA version as the driver encodes it: 1000 * major + 10 * minor (13000 for 13.0). */
    public int driverVersion() {
        return driverVersion;
    }

    /**
     * Properties of one device.
     *
     * @throws IllegalArgumentException when the ordinal is not in [0, deviceCount())
     */
    public DeviceProperties device(int ordinal) {
        int device = deviceHandle(ordinal);
        try (Arena arena = Arena.ofConfined()) {
            final int nameCapacity = 256;
            MemorySegment name = arena.allocate(nameCapacity);
            driver.check(driver.deviceGetName(name, nameCapacity, device), "cuDeviceGetName");
            MemorySegment total = arena.allocate(JAVA_LONG);
            driver.check(driver.deviceTotalMem(total, device), "cuDeviceTotalMem_v2");
            return new DeviceProperties(ordinal, name.getString(0),
                    attribute(arena, DriverApi.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device),
                    attribute(arena, DriverApi.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device),
                    attribute(arena, DriverApi.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device),
                    total.get(JAVA_LONG, 0));
        }
    }

    private int attribute(Arena arena, int attribute, int device) {
        MemorySegment value = arena.allocate(JAVA_INT);
        driver.check(driver.deviceGetAttribute(value, attribute, device), "cuDeviceGetAttribute",
                "attribute " + attribute + " of device " + device);
        return value.get(JAVA_INT, 0);
    }

    /**
     * Retains the device's primary context and makes it current on the calling thread. Several contexts
     * opened on one device share the driver's primary context; each {@link CudaContext#close()} releases
     * its own retain.
     *
     * @throws IllegalArgumentException when the ordinal is not in [0, deviceCount())
     * @throws CudaUnavailableException when the driver is older than {@link #REQUIRED_DRIVER_VERSION}
     */
    public CudaContext openContext(int ordinal) {
        checkDriverVersion(driverVersion, driverLibrary.candidate().description());
        int device = deviceHandle(ordinal);
        long handle;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment context = arena.allocate(JAVA_LONG);
            driver.check(driver.devicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain",
                    "device " + ordinal);
            handle = context.get(JAVA_LONG, 0);
        }
        CudaContext context = new CudaContext(this, ordinal, device, handle);
        context.makeCurrent();
        return context;
    }

    /**
     * A human-readable summary: the libraries loaded and how they were chosen, the driver version, and the
     * devices (the emulator reports itself as "elbo4j CPU emulator").
     */
    public String describe() {
        StringBuilder text = new StringBuilder();
        text.append("CUDA driver library: ").append(driverLibrary.candidate().description());
        discovery.override().ifPresent(o ->
                text.append("\n  chosen by ").append(o.origin()).append(" (one library for driver and cuBLAS)"));
        text.append("\nDriver API version: ").append(versionText(driverVersion)).append(" (the kernels need ")
                .append(versionText(REQUIRED_DRIVER_VERSION)).append(" or newer: ")
                .append(driverVersion >= REQUIRED_DRIVER_VERSION ? "met)" : "too old, contexts cannot be opened)");
        synchronized (this) {
            text.append("\ncuBLAS: ").append(cublas != null ? cublas.library()
                    : cublasFailure != null ? "unavailable (" + cublasFailure.getMessage() + ")" : "not loaded yet");
        }
        for (int i = 0; i < deviceCount; i++) {
            DeviceProperties device = device(i);
            text.append("\nDevice ").append(i).append(": ").append(device.name()).append(", ")
                    .append(device.architecture()).append(", ").append(device.multiprocessorCount()).append(" SMs, ")
                    .append(device.totalMemoryBytes() >> 20).append(" MiB");
        }
        return text.toString();
    }

    DriverApi driver() {
        return driver;
    }

    /** cuBLAS, loaded on first use (the override library when one is set, else the search described above). */
    synchronized CublasApi cublas() {
        if (cublas == null && cublasFailure == null) {
            try {
                LibraryDiscovery.Loaded loaded = discovery.override().isPresent()
                        ? driverLibrary
                        : discovery.loadCublas();
                cublas = new CublasApi(loaded.symbols(), loaded.candidate().description());
            } catch (CudaUnavailableException e) {
                cublasFailure = e;
            }
        }
        if (cublasFailure != null) {
            throw new CudaUnavailableException(cublasFailure);
        }
        return cublas;
    }

    /**
     * Refuses a driver older than {@link #REQUIRED_DRIVER_VERSION}: it would fail to load the kernels (with
     * CUDA_ERROR_UNSUPPORTED_PTX_VERSION or CUDA_ERROR_NO_BINARY_FOR_GPU) only when they are first used.
     */
    static void checkDriverVersion(int found, String library) {
        if (found < REQUIRED_DRIVER_VERSION) {
            throw new CudaUnavailableException("the CUDA driver supports CUDA " + versionText(found)
                    + ", but elbo4j's kernels are built with CUDA 13 and need a driver for CUDA "
                    + versionText(REQUIRED_DRIVER_VERSION) + " or newer (NVIDIA R580 or later)",
                    List.of(library + ": cuDriverGetVersion gives " + found),
                    "Update the NVIDIA driver (nvidia-smi shows the CUDA version a driver supports).");
        }
    }

    /** "13.0" for 13000: the driver's encoding is 1000 * major + 10 * minor. */
    private static String versionText(int version) {
        return version / 1000 + "." + version % 1000 / 10;
    }

    private int deviceHandle(int ordinal) {
        if (ordinal < 0 || ordinal >= deviceCount) {
            throw new IllegalArgumentException(
                    "device ordinal " + ordinal + " is out of range: the driver sees " + deviceCount + " device(s)");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment device = arena.allocate(JAVA_INT);
            driver.check(driver.deviceGet(device, ordinal), "cuDeviceGet", "ordinal " + ordinal);
            return device.get(JAVA_INT, 0);
        }
    }
}
