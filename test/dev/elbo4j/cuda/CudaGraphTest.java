package dev.elbo4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Stream capture into a graph and replay, against the same kernels launched directly. */
@Tag("cuda")
@ExtendWith(CudaTestSupport.class)
class CudaGraphTest {
    private static final int N = 5000;

    private final CudaContext cuda;
    private final CudaFunction fill;
    private final CudaFunction axpy;
    private final long seed = Seeds.next();
    private final Random random = new Random(seed);

    CudaGraphTest(CudaContext cuda) {
        this.cuda = cuda;
        this.fill = cuda.kernels().function("elbo4j_fill_f32", KernelParameter.POINTER, KernelParameter.FLOAT,
                KernelParameter.LONG);
        this.axpy = cuda.kernels().function("elbo4j_axpy_f32", KernelParameter.POINTER, KernelParameter.POINTER,
                KernelParameter.FLOAT, KernelParameter.LONG);
    }

    /** y = 0.5; y += 1.5 x; y += -0.25 x; y += 3 x: the chain both paths run. */
    private void chain(CudaStream stream, DeviceBuffer y, DeviceBuffer x) {
        fill.launch(stream, 8, 128, y, 0.5f, (long) N);
        axpy.launch(stream, 8, 128, y, x, 1.5f, (long) N);
        axpy.launch(stream, 5, 256, y, x, -0.25f, (long) N);
        axpy.launch(stream, Dim3.of(3), Dim3.of(64), y, x, 3f, (long) N);
    }

    private float[] randomFloats() {
        float[] values = new float[N];
        for (int i = 0; i < N; i++) {
            values[i] = (float) random.nextGaussian();
        }
        return values;
    }

    private static int[] bits(float[] values) {
        int[] bits = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Float.floatToRawIntBits(values[i]);
        }
        return bits;
    }

    @Test
    void aReplayedGraphComputesWhatTheDirectLaunchesCompute() {
        try (CudaStream stream = cuda.createStream();
             DeviceBuffer x = cuda.allocateFloats(N);
             DeviceBuffer direct = cuda.allocateFloats(N);
             DeviceBuffer replayed = cuda.allocateFloats(N)) {
            x.copyFrom(randomFloats());
            chain(stream, direct, x);
            stream.synchronize();

            replayed.fillFloats(Float.NaN);
            try (CudaGraph graph = cuda.capture(stream, () -> chain(stream, replayed, x))) {
                stream.synchronize();
                // Capture records the work without running it.
                assertTrue(Float.isNaN(replayed.toFloatArray()[0]), "captured work ran during capture");
                assertFalse(stream.isCapturing());

                graph.launch(stream);
                stream.synchronize();
                assertArrayEquals(bits(direct.toFloatArray()), bits(replayed.toFloatArray()), "seed=" + seed);

                // Replays read the buffers as they are then: new x, new result.
                x.copyFrom(randomFloats());
                chain(stream, direct, x);
                graph.launch(stream);
                graph.launch(null);
                cuda.synchronize();
                assertArrayEquals(bits(direct.toFloatArray()), bits(replayed.toFloatArray()), "seed=" + seed);
            }
        }
    }

    @Test
    void anExceptionInTheCapturedWorkEndsTheCaptureAndPropagates() {
        IllegalStateException thrown = new IllegalStateException("work failed");
        try (CudaStream stream = cuda.createStream(); DeviceBuffer y = cuda.allocateFloats(N)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> cuda.capture(stream, () -> {
                fill.launch(stream, 4, 128, y, 1f, (long) N);
                throw thrown;
            }));
            assertSame(thrown, e);
            assertFalse(stream.isCapturing());
            fill.launch(stream, 4, 128, y, 2f, (long) N);
            stream.synchronize();
            assertEquals(2f, y.toFloatArray()[N - 1], "the stream is usable after the failed capture");
        }
    }

    @Test
    void javaArrayCopiesCannotBeCaptured() {
        try (CudaStream stream = cuda.createStream(); DeviceBuffer y = cuda.allocateFloats(N)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> cuda.capture(stream, () -> y.copyFromAsync(new float[N], stream)));
            assertTrue(e.getMessage().contains("captured"), e.getMessage());
            assertFalse(stream.isCapturing());
        }
    }

    @Test
    void theLegacyDefaultStreamCannotBeCaptured() {
        NullPointerException e = assertThrows(NullPointerException.class, () -> cuda.capture(null, () -> { }));
        assertTrue(e.getMessage().contains("legacy default stream cannot be captured"), e.getMessage());
    }

    /** Replaying a graph on memory freed since the capture would fault: the launch names the closed buffer. */
    @Test
    void aGraphRefusesToLaunchOnceABufferItsWorkUsesIsClosed() {
        try (CudaStream stream = cuda.createStream(); DeviceBuffer kept = cuda.allocateFloats(N)) {
            DeviceBuffer y = cuda.allocateFloats(N);
            kept.fillFloats(0f);
            try (CudaGraph graph = cuda.capture(stream, () -> {
                fill.launch(stream, 4, 128, y.sliceFloats(0, N), 1f, (long) N);
                axpy.launch(stream, 4, 128, kept, y, 2f, (long) N);
            })) {
                graph.launch(stream);
                stream.synchronize();
                y.close();
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> graph.launch(stream));
                assertTrue(e.getMessage().contains("closed since") && e.getMessage().contains("DeviceBuffer"),
                        e.getMessage());
                assertEquals(2f, kept.toFloatArray()[N - 1], "the refused launch ran nothing");
            }
        }
    }

    @Test
    void aClosedGraphRefusesLaunches() {
        try (CudaStream stream = cuda.createStream(); DeviceBuffer y = cuda.allocateFloats(N)) {
            CudaGraph graph = cuda.capture(stream, () -> fill.launch(stream, 4, 128, y, 1f, (long) N));
            graph.close();
            graph.close();
            assertTrue(graph.isClosed());
            assertThrows(IllegalStateException.class, () -> graph.launch(stream));
        }
    }
}
