package dev.elbo4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Modules, kernel lookup, argument packing and the checks made before a launch reaches the driver. */
@Tag("cuda")
@ExtendWith(CudaTestSupport.class)
class KernelLaunchTest {
    private final CudaContext cuda;
    private final CudaFunction fill;
    private final CudaFunction axpy;
    private final long seed = Seeds.next();
    private final Random random = new Random(seed);

    KernelLaunchTest(CudaContext cuda) {
        this.cuda = cuda;
        this.fill = cuda.kernels().function("elbo4j_fill_f32");
        this.axpy = cuda.kernels().function("elbo4j_axpy_f32");
    }

    @ParameterizedTest(name = "n={0} grid={1} block={2}")
    @CsvSource({"1, 1, 32", "1000, 2, 128", "4097, 3, 64", "65536, 256, 256", "100, 8, 1024"})
    void fillWritesEveryElementForAnyGrid(int n, int grid, int block) {
        try (DeviceBuffer out = cuda.allocateFloats(n + 1)) {
            out.fillFloats(Float.NaN);
            fill.launch(null, grid, block, out, 2.75f, (long) n);
            float[] values = out.toFloatArray();
            float[] expected = new float[n];
            Arrays.fill(expected, 2.75f);
            assertArrayEquals(expected, Arrays.copyOf(values, n));
            assertTrue(Float.isNaN(values[n]), "the element after n must stay untouched");
        }
    }

    @ParameterizedTest(name = "n={0} grid={1} block={2}")
    @CsvSource({"1, 1, 32", "3333, 4, 256", "20000, 7, 96"})
    void axpyMatchesAFusedMultiplyAddOnTheCpu(int n, int grid, int block) {
        float a = (float) random.nextGaussian();
        float[] x = new float[n];
        float[] y = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
            y[i] = (float) random.nextGaussian();
        }
        try (DeviceBuffer xBuffer = cuda.allocateFloats(n);
             DeviceBuffer yBuffer = cuda.allocateFloats(n);
             CudaStream stream = cuda.createStream()) {
            xBuffer.copyFrom(x);
            yBuffer.copyFrom(y);
            axpy.launch(stream, Dim3.of(grid), Dim3.of(block), yBuffer, xBuffer, a, (long) n);
            stream.synchronize();
            float[] expected = new float[n];
            for (int i = 0; i < n; i++) {
                expected[i] = Math.fma(a, x[i], y[i]);
            }
            assertArrayEquals(expected, yBuffer.toFloatArray(), "seed=" + seed);
        }
    }

    @Test
    void kernelsReportTheirParametersAndLimits() {
        assertEquals("elbo4j_fill_f32", fill.name());
        assertTrue(fill.maxThreadsPerBlock() >= 1 && fill.maxThreadsPerBlock() <= 1024, "" + fill.maxThreadsPerBlock());
        assumeParameterInfo();
        assertEquals(3, fill.parameterCount());
        assertEquals(8, fill.parameterSize(0));
        assertEquals(4, fill.parameterSize(1));
        assertEquals(8, fill.parameterSize(2));
        assertEquals(4, axpy.parameterCount());
        assertThrows(IndexOutOfBoundsException.class, () -> fill.parameterSize(3));
    }

    /**
     * Skips a test of the parameter checks on a driver older than 12.4, which cannot report parameters; on a newer
     * driver (the emulator included) a missing report is a failure, not a skip.
     */
    private void assumeParameterInfo() {
        int driverVersion = cuda.runtime().driverVersion();
        if (driverVersion >= 12040) {
            assertTrue(fill.parameterCount() >= 0,
                    "driver " + driverVersion + " has cuFuncGetParamInfo, but elbo4j reports no parameters");
        }
        assumeTrue(fill.parameterCount() >= 0, "driver " + driverVersion + " does not report kernel parameters "
                + "(cuFuncGetParamInfo needs 12.4): argument counts and sizes are not checked");
    }

    @Test
    void functionsAndTheKernelModuleAreCached() {
        assertSame(cuda.kernels(), cuda.kernels());
        assertSame(fill, cuda.kernels().function("elbo4j_fill_f32"));
    }

    @Test
    void aWrongArgumentCountIsRejectedNamingTheKernel() {
        assumeParameterInfo();
        try (DeviceBuffer out = cuda.allocateFloats(4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> fill.launch(null, 1, 32, out, 1f));
            assertTrue(e.getMessage().contains("elbo4j_fill_f32") && e.getMessage().contains("takes 3 arguments, got 2"),
                    e.getMessage());
        }
    }

    @Test
    void aWrongArgumentSizeIsRejectedNamingTheIndexAndBothSizes() {
        assumeParameterInfo();
        try (DeviceBuffer out = cuda.allocateFloats(4)) {
            // n is a long long: an Integer is 4 bytes where 8 are expected.
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> fill.launch(null, 1, 32, out, 1f, 4));
            assertTrue(e.getMessage().contains("argument 2") && e.getMessage().contains("4 bytes")
                    && e.getMessage().contains("8 bytes"), e.getMessage());
            // value is a float: a Double is 8 bytes where 4 are expected.
            assertThrows(IllegalArgumentException.class, () -> fill.launch(null, 1, 32, out, 1.0, 4L));
        }
    }

    @Test
    void unsupportedAndNullArgumentsAreRejected() {
        try (DeviceBuffer out = cuda.allocateFloats(4)) {
            IllegalArgumentException unsupported = assertThrows(IllegalArgumentException.class,
                    () -> fill.launch(null, 1, 32, out, "1.0", 4L));
            assertTrue(unsupported.getMessage().contains("java.lang.String"), unsupported.getMessage());
            assertThrows(IllegalArgumentException.class, () -> fill.launch(null, 1, 32, out, null, 4L));
            assertThrows(IllegalArgumentException.class, () -> fill.launch(null, 1, 32, (Object[]) null));
        }
    }

    @Test
    void aBufferOfAnotherContextIsRejectedBeforeTheLaunch() {
        try (CudaContext other = CudaRuntime.get().openContext(0);
             DeviceBuffer foreign = other.allocateFloats(4)) {
            foreign.fillFloats(7f);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> fill.launch(null, 1, 32, foreign, 1f, 4L));
            assertTrue(e.getMessage().contains("elbo4j_fill_f32") && e.getMessage().contains("another context"),
                    e.getMessage());
            assertArrayEquals(new float[] {7f, 7f, 7f, 7f}, foreign.toFloatArray());
        }
    }

    @Test
    void badLaunchShapesAreRejected() {
        try (DeviceBuffer out = cuda.allocateFloats(4)) {
            IllegalArgumentException tooLarge = assertThrows(IllegalArgumentException.class,
                    () -> fill.launch(null, 1, 2048, out, 1f, 4L));
            assertTrue(tooLarge.getMessage().contains("2048") && tooLarge.getMessage().contains("elbo4j_fill_f32"),
                    tooLarge.getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> fill.launch(null, Dim3.of(1), new Dim3(64, 64, 1), out, 1f, 4L));
            assertThrows(IllegalArgumentException.class, () -> fill.launch(null, 0, 32, out, 1f, 4L));
            assertThrows(IllegalArgumentException.class, () -> fill.launch(null, 1, -1, out, 1f, 4L));
            assertThrows(IllegalArgumentException.class, () -> new Dim3(1, 0, 1));
        }
    }

    @Test
    void aClosedBufferArgumentIsRejectedBeforeTheLaunch() {
        DeviceBuffer out = cuda.allocateFloats(4);
        out.close();
        assertThrows(IllegalStateException.class, () -> fill.launch(null, 1, 32, out, 1f, 4L));
    }

    @Test
    void aMissingKernelIsNamed() {
        CudaException e = assertThrows(CudaException.class, () -> cuda.kernels().function("elbo4j_no_such_kernel"));
        assertEquals("CUDA_ERROR_NOT_FOUND", e.resultName(), e.getMessage());
        assertEquals(500, e.resultCode(), e.getMessage());
        assertEquals("cuModuleGetFunction", e.call());
        // The call, the result's name and code, the driver's own text (cuGetErrorString), then what elbo4j adds.
        assertTrue(e.getMessage().matches("(?s)cuModuleGetFunction failed: CUDA_ERROR_NOT_FOUND \\(500\\): \\S.*; "
                + "kernel 'elbo4j_no_such_kernel' in .*"), e.getMessage());
    }

    @Test
    void anInvalidImageFailsWithTheJitLogInTheMessage() {
        byte[] garbage = "this is not PTX: elbo4j checks that the JIT error log reaches the exception\n"
                .getBytes(StandardCharsets.US_ASCII);
        CudaException e = assertThrows(CudaException.class, () -> cuda.loadModule(garbage));
        System.out.println(e.getMessage());
        assertEquals("cuModuleLoadDataEx", e.call());
        assertTrue(e.resultName().startsWith("CUDA_ERROR_"), e.getMessage());
        int log = e.getMessage().indexOf("JIT error log: ");
        assertTrue(log >= 0, e.getMessage());
        String logText = e.getMessage().substring(log + "JIT error log: ".length());
        assertTrue(!logText.isBlank() && !logText.startsWith("(empty)"), "the JIT log is empty: " + e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> cuda.loadModule(new byte[0]));
    }

    @Test
    void aJarWithoutKernelsSaysSo() {
        CudaException e = assertThrows(CudaException.class,
                () -> cuda.loadModuleFromResource("/dev/elbo4j/kernels/missing-for-test.fatbin"));
        assertTrue(e.getMessage().contains("this jar was built without kernels (nvcc was not found at build time)"),
                e.getMessage());
        assertEquals(CudaException.NO_RESULT, e.resultName());
    }

    @Test
    void aClosedModuleRefusesLookupsAndLaunchesAndKernelsReloads() {
        try (CudaContext context = CudaRuntime.get().openContext(0); DeviceBuffer out = context.allocateFloats(4)) {
            CudaModule first = context.kernels();
            CudaFunction function = first.function("elbo4j_fill_f32");
            first.close();
            first.close();
            assertThrows(IllegalStateException.class, () -> first.function("elbo4j_fill_f32"));
            assertThrows(IllegalStateException.class, () -> function.launch(null, 1, 32, out, 1f, 4L));
            CudaModule second = context.kernels();
            assertNotSame(first, second);
            second.function("elbo4j_fill_f32").launch(null, 1, 32, out, 1f, 4L);
            assertArrayEquals(new float[] {1f, 1f, 1f, 1f}, out.toFloatArray());
        }
    }
}
