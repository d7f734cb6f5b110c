package dev.elbo4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A fault inside a kernel, reported as a GPU reports it: the launch succeeds, the next synchronization fails
 * naming the last kernel launched, every later call of the context fails with the same error (it is sticky), and
 * only a new context works again. The class opens its own contexts instead of CudaTestSupport's class-wide one:
 * the faulting context must be the only one open, so that closing it destroys the driver's primary context.
 */
@Tag("cuda")
class KernelFaultTest {
    /**
     * emutest_trap of native/test/kernels/planted.cu as nvcc 13 writes it in PTX for compute_75 (comments left
     * out): out[threadIdx.x] = 1, then thread 0 executes {@code trap}. A GPU compiles this text; the CPU emulator
     * runs its compiled-in copy of the same kernel, which a module exposes because the text names it.
     */
    private static final String TRAP_PTX = """
            .version 9.0
            .target sm_75
            .address_size 64

            .visible .entry emutest_trap(
                .param .u64 emutest_trap_param_0
            )
            {
                .reg .pred %p<2>;
                .reg .b32 %r<3>;
                .reg .b64 %rd<5>;

                ld.param.u64 %rd1, [emutest_trap_param_0];
                cvta.to.global.u64 %rd2, %rd1;
                mov.u32 %r1, %tid.x;
                mul.wide.u32 %rd3, %r1, 4;
                add.s64 %rd4, %rd2, %rd3;
                mov.u32 %r2, 1;
                st.global.u32 [%rd4], %r2;
                setp.ne.s32 %p1, %r1, 0;
                @%p1 bra $L__BB0_2;
                trap;

            $L__BB0_2:
                ret;
            }
            """;

    @BeforeAll
    static void requireBackend() {
        CudaRuntime.unavailableReason().ifPresent(reason -> CudaTestSupport.skipOrFail("KernelFaultTest", reason));
    }

    @Test
    void aKernelFaultIsStickyNamesTheKernelAndANewContextWorks() {
        CudaRuntime runtime = CudaRuntime.get();
        CudaContext broken = runtime.openContext(0);
        try {
            CudaFunction trap = broken.loadModule(TRAP_PTX.getBytes(StandardCharsets.US_ASCII))
                    .function("emutest_trap", KernelParameter.POINTER);
            DeviceBuffer out = broken.allocate(64 * Integer.BYTES);
            trap.launch(null, 2, 32, out);

            CudaException atSync = assertThrows(CudaException.class, broken::synchronize);
            assertEquals("CUDA_ERROR_LAUNCH_FAILED", atSync.resultName(), atSync.getMessage());
            assertEquals(719, atSync.resultCode());
            assertTrue(atSync.getMessage().contains("the last kernel launched in this context was emutest_trap"),
                    atSync.getMessage());
            // Sticky: later calls fail with the same error, whatever they are.
            CudaException atCopy = assertThrows(CudaException.class, out::toFloatArray);
            assertEquals("CUDA_ERROR_LAUNCH_FAILED", atCopy.resultName(), atCopy.getMessage());
            assertTrue(atCopy.getMessage().contains("emutest_trap"), atCopy.getMessage());
            CudaException atAllocation = assertThrows(CudaException.class, () -> broken.allocate(16));
            assertEquals("CUDA_ERROR_LAUNCH_FAILED", atAllocation.resultName(), atAllocation.getMessage());
            // Closing reports the error once more, and still releases everything.
            CudaException atClose = assertThrows(CudaException.class, broken::close);
            assertEquals("CUDA_ERROR_LAUNCH_FAILED", atClose.resultName(), atClose.getMessage());
            assertTrue(broken.isClosed() && out.isClosed());
        } finally {
            closeAfterFailure(broken);
        }

        // The last release destroyed the primary context: a new one works.
        try (CudaContext fresh = runtime.openContext(0); DeviceBuffer buffer = fresh.allocateFloats(1000)) {
            fresh.kernels().function("elbo4j_fill_f32", KernelParameter.POINTER, KernelParameter.FLOAT,
                    KernelParameter.LONG).launch(null, 4, 256, buffer, 1.5f, 1000L);
            float[] expected = new float[1000];
            Arrays.fill(expected, 1.5f);
            assertArrayEquals(expected, buffer.toFloatArray());
        }
    }

    /** Closes a context an assertion left open, so that later test classes get a working device. */
    private static void closeAfterFailure(CudaContext context) {
        if (context.isClosed()) {
            return;
        }
        try {
            context.close();
        } catch (CudaException expected) {
            // The sticky error again: the assertion that failed before is the one to report.
        }
    }
}
