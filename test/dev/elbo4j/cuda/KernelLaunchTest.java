package dev.elbo4j.cuda;

import static dev.elbo4j.cuda.KernelParameter.FLOAT;
import static dev.elbo4j.cuda.KernelParameter.INT;
import static dev.elbo4j.cuda.KernelParameter.LONG;
import static dev.elbo4j.cuda.KernelParameter.NULLABLE_POINTER;
import static dev.elbo4j.cuda.KernelParameter.POINTER;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
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
        this.fill = cuda.kernels().function("elbo4j_fill_f32", POINTER, FLOAT, LONG);
        this.axpy = cuda.kernels().function("elbo4j_axpy_f32", POINTER, POINTER, FLOAT, LONG);
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
    void kernelsReportTheirDeclarationAndLimits() {
        assertEquals("elbo4j_fill_f32", fill.name());
        assertTrue(fill.maxThreadsPerBlock() >= 1 && fill.maxThreadsPerBlock() <= 1024, "" + fill.maxThreadsPerBlock());
        assertEquals(List.of(POINTER, FLOAT, LONG), fill.parameters());
        assertEquals(List.of(POINTER, POINTER, FLOAT, LONG), axpy.parameters());
    }

    @Test
    void aDeclarationThatDoesNotMatchTheKernelIsRefused() {
        try (CudaContext context = CudaRuntime.get().openContext(0)) {
            CudaModule module = context.kernels();
            IllegalArgumentException count = assertThrows(IllegalArgumentException.class,
                    () -> module.function("elbo4j_axpy_f32", POINTER, FLOAT, LONG));
            assertTrue(count.getMessage().contains("has 4 parameters, but 3 were declared"), count.getMessage());
            IllegalArgumentException size = assertThrows(IllegalArgumentException.class,
                    () -> module.function("elbo4j_axpy_f32", POINTER, POINTER, FLOAT, INT));
            assertTrue(size.getMessage().contains("parameter 3") && size.getMessage().contains("8 bytes")
                    && size.getMessage().contains("INT (4 bytes)"), size.getMessage());
        }
    }

    @Test
    void functionsAndTheKernelModuleAreCachedAndAKernelHasOneDeclaration() {
        assertSame(cuda.kernels(), cuda.kernels());
        assertSame(fill, cuda.kernels().function("elbo4j_fill_f32", POINTER, FLOAT, LONG));
        IllegalArgumentException redeclared = assertThrows(IllegalArgumentException.class,
                () -> cuda.kernels().function("elbo4j_fill_f32", NULLABLE_POINTER, FLOAT, LONG));
        assertTrue(redeclared.getMessage().contains("already bound"), redeclared.getMessage());
    }

    @Test
    void aWrongArgumentCountIsRejectedNamingTheKernel() {
        try (DeviceBuffer out = cuda.allocateFloats(4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> fill.launch(null, 1, 32, out, 1f));
            assertTrue(e.getMessage().contains("elbo4j_fill_f32") && e.getMessage().contains("takes 3 arguments")
                    && e.getMessage().contains("got 2"), e.getMessage());
        }
    }

    @Test
    void aWrongArgumentTypeIsRejectedNamingTheIndexAndTheDeclaration() {
        try (DeviceBuffer out = cuda.allocateFloats(4)) {
            // n is a long long: an Integer is not a Long.
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> fill.launch(null, 1, 32, out, 1f, 4));
            assertTrue(e.getMessage().contains("argument 2") && e.getMessage().contains("Integer")
                    && e.getMessage().contains("declared LONG"), e.getMessage());
            // value is a float: a Double is not a Float.
            assertThrows(IllegalArgumentException.class, () -> fill.launch(null, 1, 32, out, 1.0, 4L));
        }
    }

    @Test
    void unsupportedAndNullArgumentsAreRejected() {
        try (DeviceBuffer out = cuda.allocateFloats(4)) {
            IllegalArgumentException unsupported = assertThrows(IllegalArgumentException.class,
                    () -> fill.launch(null, 1, 32, out, "1.0", 4L));
            assertTrue(unsupported.getMessage().contains("String"), unsupported.getMessage());
            assertThrows(IllegalArgumentException.class, () -> fill.launch(null, 1, 32, out, null, 4L));
            IllegalArgumentException nullPointer = assertThrows(IllegalArgumentException.class,
                    () -> fill.launch(null, 1, 32, null, 1f, 4L));
            assertTrue(nullPointer.getMessage().contains("declared POINTER"), nullPointer.getMessage());
            assertThrows(IllegalArgumentException.class, () -> fill.launch(null, 1, 32, (Object[]) null));
        }
    }

    @Test
    void aBufferOfAnotherContextIsRejectedBeforeTheLaunchNamingBothContexts() {
        try (CudaContext other = CudaRuntime.get().openContext(0);
             DeviceBuffer foreign = other.allocateFloats(4)) {
            foreign.fillFloats(7f);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> fill.launch(null, 1, 32, foreign, 1f, 4L));
            assertTrue(e.getMessage().contains("elbo4j_fill_f32")
                    && e.getMessage().contains("belongs to CudaContext#" + other.id() + "(device 0), not to CudaContext#"
                    + cuda.id() + "(device 0)"), e.getMessage());
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
        CudaException e = assertThrows(CudaException.class,
                () -> cuda.kernels().function("elbo4j_no_such_kernel", POINTER));
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
            CudaFunction function = first.function("elbo4j_fill_f32", POINTER, FLOAT, LONG);
            first.close();
            first.close();
            assertThrows(IllegalStateException.class, () -> first.function("elbo4j_fill_f32", POINTER, FLOAT, LONG));
            assertThrows(IllegalStateException.class, () -> function.launch(null, 1, 32, out, 1f, 4L));
            CudaModule second = context.kernels();
            assertNotSame(first, second);
            second.function("elbo4j_fill_f32", POINTER, FLOAT, LONG).launch(null, 1, 32, out, 1f, 4L);
            assertArrayEquals(new float[] {1f, 1f, 1f, 1f}, out.toFloatArray());
        }
    }
}
