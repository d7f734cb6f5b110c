package dev.elbo4j.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The driver requirement that context creation checks: the kernels come from nvcc 13, so a driver for CUDA 12
 * cannot load them. Needs no CUDA backend (no "cuda" tag): the check is given the version a driver reported.
 */
class DriverVersionTest {

    @Test
    void aDriverOlderThanCuda13IsRefusedSayingWhatWasFoundAndWhatIsNeeded() {
        CudaUnavailableException e = assertThrows(CudaUnavailableException.class,
                () -> CudaRuntime.checkDriverVersion(12080, "libcuda.so.1"));
        String message = e.getMessage();
        assertTrue(message.contains("supports CUDA 12.8") && message.contains("CUDA 13.0 or newer")
                && message.contains("R580") && message.contains("libcuda.so.1: cuDriverGetVersion gives 12080"), message);
    }

    @Test
    void cuda13AndNewerDriversAreAccepted() {
        assertDoesNotThrow(() -> CudaRuntime.checkDriverVersion(CudaRuntime.REQUIRED_DRIVER_VERSION, "libcuda.so.1"));
        assertDoesNotThrow(() -> CudaRuntime.checkDriverVersion(13020, "libcuda.so.1"));
    }
}
