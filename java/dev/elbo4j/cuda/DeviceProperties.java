package dev.elbo4j.cuda;

/**
 * What the driver reports about one device.
 *
 * @param ordinal             the device's index, 0 to {@link CudaRuntime#deviceCount()} - 1
 * @param name                the product name, e.g. "NVIDIA H100 80GB HBM3" (the emulator: "elbo4j CPU emulator")
 * @param computeMajor        compute capability, major part (9 for sm_90)
 * @param computeMinor        compute capability, minor part (0 for sm_90)
 * @param multiprocessorCount number of streaming multiprocessors
 * @param totalMemoryBytes    global memory in bytes
 */
public record DeviceProperties(int ordinal, String name, int computeMajor, int computeMinor,
                               int multiprocessorCount, long totalMemoryBytes) {
    /** The compute capability as nvcc spells the architecture, e.g. "sm_90". */
    public String architecture() {
        return "sm_" + computeMajor + computeMinor;
    }
}
