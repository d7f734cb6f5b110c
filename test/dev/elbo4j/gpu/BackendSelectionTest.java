package dev.elbo4j.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.cuda.CudaException;
import dev.elbo4j.cuda.CudaRuntime;
import dev.elbo4j.cuda.CudaUnavailableException;
import dev.elbo4j.gpu.BackendSelection.Choice;
import dev.elbo4j.gpu.BackendSelection.Selected;
import dev.elbo4j.nn.Backend;

/**
 * The backend choice: auto takes a usable GPU and otherwise the CPU, saying why; cuda fails with the reason when
 * there is no GPU; cpu takes the CPU. The GPU probes are replaced here, except in the one test that opens the
 * CUDA backend the tests run on (the emulator in CI).
 */
class BackendSelectionTest {
    private static CpuBackend cpu;

    @BeforeAll
    static void open() {
        cpu = CpuBackend.create(1);
    }

    @AfterAll
    static void close() {
        cpu.close();
    }

    /** The CPU backend, not to be closed by the selection's tests (they share it). */
    private static final Supplier<Backend> CPU = () -> cpu;

    private static Supplier<Backend> failingGpu(RuntimeException failure) {
        return () -> {
            throw failure;
        };
    }

    @Test
    void autoTakesTheCpuWhenThereIsNoGpuAndSaysWhy() {
        Selected selected = BackendSelection.open(Choice.AUTO, () -> Optional.of("libcuda.so.1 was not found"),
                () -> {
                    throw new AssertionError("no GPU is opened when the probe finds none");
                }, CPU);
        assertSame(cpu, selected.backend());
        assertTrue(selected.reason().startsWith("no usable GPU (libcuda.so.1 was not found): using cpu"),
                selected.reason());
    }

    /** A caller's probe (the command line's tests describe a machine without a driver this way); reasons are one line. */
    @Test
    void aCallersProbeDescribesTheMachineAndTheReasonIsOneLine() {
        CudaUnavailableException missing = new CudaUnavailableException("no CUDA driver library could be loaded",
                List.of("libcuda.so.1 (system loader): not found", "/usr/lib/libcuda.so.1: not found"),
                "Install the NVIDIA driver");
        BackendSelection.GpuProbe noDriver = new BackendSelection.GpuProbe(() -> Optional.of(missing.getMessage()),
                () -> {
                    throw missing;
                });
        try (Selected auto = BackendSelection.open(Choice.AUTO, 1, noDriver)) {
            assertInstanceOf(CpuBackend.class, auto.backend());
            assertEquals(1, ((CpuBackend) auto.backend()).threads());
            assertEquals("no usable GPU (no CUDA driver library could be loaded): using "
                    + auto.backend().description(), auto.reason());
        }
        assertSame(missing, assertThrows(CudaUnavailableException.class,
                () -> BackendSelection.open(Choice.CUDA, 1, noDriver)));
        assertThrows(IllegalArgumentException.class, () -> BackendSelection.open(Choice.CPU, 0, noDriver));
    }

    @Test
    void autoFallsBackWhenTheGpuCannotBeOpened() {
        Selected selected = BackendSelection.open(Choice.AUTO, Optional::empty,
                failingGpu(new CudaException("kernels()", "this jar was built without kernels")), CPU);
        assertSame(cpu, selected.backend());
        assertTrue(selected.reason().contains("the GPU could not be used")
                && selected.reason().contains("built without kernels"), selected.reason());
    }

    @Test
    void cudaFailsWithTheReasonWhenThereIsNoGpu() {
        CudaUnavailableException missing = new CudaUnavailableException("no CUDA driver",
                List.of("libcuda.so.1: not found"), "Install the NVIDIA driver");
        CudaUnavailableException thrown = assertThrows(CudaUnavailableException.class,
                () -> BackendSelection.open(Choice.CUDA, Optional::empty, failingGpu(missing), CPU));
        assertSame(missing, thrown);
    }

    @Test
    void cpuTakesTheCpu() {
        Selected selected = BackendSelection.open(Choice.CPU, () -> {
            throw new AssertionError("the GPU is not probed for cpu");
        }, failingGpu(new IllegalStateException()), CPU);
        assertSame(cpu, selected.backend());
        assertEquals("the CPU was asked for: " + cpu.description(), selected.reason());
    }

    @Test
    void theCpuTakesTheThreadsAsked() {
        try (Selected selected = BackendSelection.open(Choice.CPU, 3)) {
            assertEquals(3, ((CpuBackend) selected.backend()).threads());
        }
        assertThrows(IllegalArgumentException.class, () -> BackendSelection.open(Choice.CPU, 0));
    }

    @Test
    void choicesParseIgnoringCaseAndUnknownOnesAreRefused() {
        assertEquals(Choice.AUTO, Choice.parse("auto"));
        assertEquals(Choice.CUDA, Choice.parse(" CUDA "));
        assertEquals(Choice.CPU, Choice.parse("Cpu"));
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> Choice.parse("gpu"));
        assertEquals("unknown backend 'gpu': use auto, cuda or cpu", unknown.getMessage());
    }

    @Test
    @Tag("cuda")
    void onTheTestsCudaLibraryCudaOpensTheCudaBackendAndAutoTakesAGpuButNotTheEmulator() {
        if (CudaRuntime.unavailableReason().isPresent()) {
            dev.elbo4j.cuda.CudaTestSupport.skipOrFail("BackendSelectionTest", CudaRuntime.unavailableReason().get());
        }
        boolean emulator = BackendSelection.EMULATOR_NAME.equals(CudaRuntime.get().device(0).name());
        try (Selected cuda = BackendSelection.open(Choice.CUDA)) {
            assertInstanceOf(CudaBackend.class, cuda.backend());
            assertTrue(cuda.reason().startsWith("CUDA was asked for: cuda ("), cuda.reason());
        }
        try (Selected auto = BackendSelection.open(Choice.AUTO)) {
            if (emulator) {
                assertInstanceOf(CpuBackend.class, auto.backend());
                assertTrue(auto.reason().contains("the CPU emulator"), auto.reason());
            } else {
                assertInstanceOf(CudaBackend.class, auto.backend());
                assertTrue(auto.reason().startsWith("a GPU was found: cuda ("), auto.reason());
            }
        }
    }
}
