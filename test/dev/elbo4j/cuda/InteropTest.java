package dev.elbo4j.cuda;

import static dev.elbo4j.cuda.KernelParameter.FLOAT;
import static dev.elbo4j.cuda.KernelParameter.LONG;
import static dev.elbo4j.cuda.KernelParameter.POINTER;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Device memory and streams of another CUDA binding, wrapped as non-owning views: usable by launches and copies
 * like elbo4j's own, never freed or destroyed by elbo4j. The other library is played here by a second context's
 * allocation and stream on the same device (the primary context is shared), handed over as raw numbers.
 */
@Tag("cuda")
@ExtendWith(CudaTestSupport.class)
class InteropTest {
    private final CudaContext cuda;

    InteropTest(CudaContext cuda) {
        this.cuda = cuda;
    }

    @Test
    void aWrappedPointerAndStreamWorkLikeOwnOnesAndAreNeverFreed() {
        try (CudaContext otherLibrary = CudaRuntime.get().openContext(0);
             DeviceBuffer theirs = otherLibrary.allocateFloats(8);
             CudaStream theirStream = otherLibrary.createStream()) {
            theirs.fillFloats(0f);
            DeviceBuffer wrapped = cuda.wrap(theirs.address(), theirs.byteSize());
            CudaStream wrappedStream = cuda.wrapStream(theirStream.handle());
            assertFalse(wrapped.isOwning());
            assertFalse(wrappedStream.isOwning());
            CudaFunction fill = cuda.kernels().function("elbo4j_fill_f32", POINTER, FLOAT, LONG);
            fill.launch(wrappedStream, 1, 32, wrapped.sliceFloats(0, 4), 3f, 4L);
            wrappedStream.synchronize();
            assertArrayEquals(new float[] {3f, 3f, 3f, 3f, 0f, 0f, 0f, 0f}, wrapped.toFloatArray());

            wrapped.close();
            wrappedStream.close();
            assertTrue(wrapped.isClosed());
            assertThrows(IllegalStateException.class, () -> fill.launch(null, 1, 32, wrapped, 1f, 4L));
            // The owner's memory and stream are still alive: elbo4j freed and destroyed nothing.
            theirs.fillFloatsAsync(5f, theirStream);
            theirStream.synchronize();
            assertArrayEquals(new float[] {5f, 5f, 5f, 5f, 5f, 5f, 5f, 5f}, theirs.toFloatArray());
        }
    }

    @Test
    void aNullPointerOrEmptyRangeCannotBeWrapped() {
        assertThrows(IllegalArgumentException.class, () -> cuda.wrap(0L, 16));
        assertThrows(IllegalArgumentException.class, () -> cuda.wrap(0x1000L, 0));
        assertThrows(IllegalArgumentException.class, () -> cuda.wrap(-16L, 64));
        assertThrows(IllegalArgumentException.class, () -> cuda.wrapStream(0L));
    }
}
