package dev.elbo4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The runtime, devices, contexts and their ownership of everything created from them. */
@Tag("cuda")
@ExtendWith(CudaTestSupport.class)
class CudaContextTest {
    private final CudaContext cuda;
    private final CudaRuntime runtime;

    CudaContextTest(CudaContext cuda, CudaRuntime runtime) {
        this.cuda = cuda;
        this.runtime = runtime;
    }

    @Test
    void theRuntimeDescribesItsDevicesAndLibraries() {
        assertTrue(runtime.deviceCount() >= 1);
        assertTrue(CudaRuntime.unavailableReason().isEmpty());
        DeviceProperties device = runtime.device(0);
        assertEquals(0, device.ordinal());
        assertFalse(device.name().isBlank());
        assertTrue(device.computeMajor() >= 5, device.toString());
        assertTrue(device.computeMinor() >= 0, device.toString());
        assertTrue(device.multiprocessorCount() >= 1, device.toString());
        assertTrue(device.totalMemoryBytes() > 0, device.toString());
        assertTrue(runtime.driverVersion() >= CudaRuntime.REQUIRED_DRIVER_VERSION,
                "driver version " + runtime.driverVersion() + ": this context could not have been opened");

        String description = runtime.describe();
        System.out.println(description);
        assertTrue(description.contains("CUDA driver library: ") && description.contains(device.name()), description);
        assertTrue(description.contains("(the kernels need 13.0 or newer: met)"), description);
    }

    @Test
    void ordinalsOutsideTheDeviceRangeAreRejected() {
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class, () -> runtime.device(-1));
        assertTrue(negative.getMessage().contains("device ordinal -1 is out of range"), negative.getMessage());
        int past = runtime.deviceCount();
        IllegalArgumentException tooLarge = assertThrows(IllegalArgumentException.class, () -> runtime.device(past));
        assertTrue(tooLarge.getMessage().contains("the driver sees " + past + " device(s)"), tooLarge.getMessage());
        assertThrows(IllegalArgumentException.class, () -> runtime.openContext(past));
    }

    @Test
    void freeMemoryIsPositiveAndAtMostTheTotal() {
        long free = cuda.freeMemoryBytes();
        assertTrue(free > 0 && free <= runtime.device(0).totalMemoryBytes(), "free " + free);
    }

    @Test
    void closingAContextClosesEverythingItOwns() {
        CudaContext context = runtime.openContext(0);
        DeviceBuffer buffer = context.allocateFloats(64);
        DeviceBuffer view = buffer.sliceFloats(0, 8);
        CudaStream stream = context.createStream();
        CudaEvent event = context.createEvent();
        CudaModule kernels = context.kernels();
        CudaFunction fill = kernels.function("elbo4j_fill_f32", KernelParameter.POINTER, KernelParameter.FLOAT,
                KernelParameter.LONG);

        context.close();
        context.close();

        assertTrue(context.isClosed());
        assertTrue(buffer.isClosed() && view.isClosed() && stream.isClosed() && event.isClosed() && kernels.isClosed());
        assertThrows(IllegalStateException.class, () -> buffer.copyFrom(new float[64]));
        assertThrows(IllegalStateException.class, stream::synchronize);
        assertThrows(IllegalStateException.class, () -> event.record(null));
        assertThrows(IllegalStateException.class, () -> fill.launch(null, 1, 32, buffer, 0f, 64L));
        assertThrows(IllegalStateException.class, () -> kernels.function("elbo4j_fill_f32", KernelParameter.POINTER,
                KernelParameter.FLOAT, KernelParameter.LONG));
        assertThrows(IllegalStateException.class, context::makeCurrent);
        assertThrows(IllegalStateException.class, context::synchronize);
        assertThrows(IllegalStateException.class, () -> context.allocate(4));
        assertThrows(IllegalStateException.class, context::createStream);
        assertThrows(IllegalStateException.class, context::kernels);
        // The test class's own context (the same primary context, retained separately) is unaffected.
        try (DeviceBuffer still = cuda.allocateFloats(4)) {
            still.fillFloats(3f);
            assertArrayEquals(new float[] {3f, 3f, 3f, 3f}, still.toFloatArray());
        }
    }

    @Test
    void closingACublasHandleWithItsContext() {
        CudaContext context = runtime.openContext(0);
        try {
            Cublas cublas = CudaTestSupport.createCublasOrSkip(context, null);
            context.close();
            assertTrue(cublas.isClosed());
            assertThrows(IllegalStateException.class, () -> cublas.setMathMode(Cublas.MathMode.DEFAULT));
        } finally {
            context.close();
        }
    }

    @Test
    void aContextWorksFromAnyThread() throws Exception {
        float[] values = {1f, -2f, 3.5f, Float.MIN_VALUE};
        try (DeviceBuffer buffer = cuda.allocateFloats(values.length)) {
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                // A fresh thread has no current context: each operation makes the owning one current.
                Future<?> write = pool.submit(() -> buffer.copyFrom(values));
                write.get();
                Future<float[]> read = pool.submit(buffer::toFloatArray);
                assertArrayEquals(values, read.get());
            } finally {
                pool.shutdown();
            }
        }
    }

    @Test
    void eventsMeasureNonNegativeTimeOnAStream() {
        try (CudaStream stream = cuda.createStream();
             CudaEvent start = cuda.createEvent();
             CudaEvent end = cuda.createEvent();
             DeviceBuffer buffer = cuda.allocateFloats(1 << 16)) {
            start.record(stream);
            cuda.kernels().function("elbo4j_fill_f32", KernelParameter.POINTER, KernelParameter.FLOAT,
                    KernelParameter.LONG).launch(stream, 64, 256, buffer, 1f, (long) (1 << 16));
            end.record(stream);
            end.synchronize();
            float milliseconds = end.elapsedMillisSince(start);
            assertTrue(milliseconds >= 0f && Float.isFinite(milliseconds), "elapsed " + milliseconds);
        }
    }

    @Test
    void closedStreamsAndEventsRefuseUse() {
        CudaStream stream = cuda.createStream();
        CudaEvent event = cuda.createEvent();
        stream.close();
        stream.close();
        event.close();
        event.close();
        assertThrows(IllegalStateException.class, stream::synchronize);
        assertThrows(IllegalStateException.class, stream::handle);
        assertThrows(IllegalStateException.class, event::synchronize);
        try (CudaEvent other = cuda.createEvent(); DeviceBuffer buffer = cuda.allocate(4)) {
            assertThrows(IllegalStateException.class, () -> other.record(stream));
            assertThrows(IllegalStateException.class, () -> buffer.fillBytesAsync((byte) 0, stream));
            assertThrows(IllegalStateException.class, () -> other.elapsedMillisSince(event));
        }
    }
}
