package dev.elbo4j.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Row-major SGEMM and GemmEx against a double-precision CPU product.
 *
 * <p>Tolerances, per element of C, relative to the magnitude bound
 * {@code |alpha| * sum_k |op(A)_ik op(B)_kj| + |beta C_ij|} (which bounds the rounding error of any summation
 * order): FP32 1e-5 (float32 products and sums, k <= 65 terms here: k * 2^-24 < 4e-6); TF32 4e-3 (each input
 * rounded to a 10-bit mantissa, relative error up to 2^-11 each, so about 1e-3 per product, doubled for
 * margin and accumulation); BF16 1.6e-2 (each input rounded to a 7-bit mantissa, 2^-8 each, so about 8e-3
 * per product, doubled).
 */
@Tag("cuda")
@ExtendWith(CudaTestSupport.class)
class CublasTest {
    private final CudaContext cuda;
    private final long seed = Seeds.next();
    private final Random random = new Random(seed);
    private CudaStream stream;
    private Cublas cublas;

    CublasTest(CudaContext cuda) {
        this.cuda = cuda;
    }

    @BeforeEach
    void createHandle() {
        stream = cuda.createStream();
        cublas = CudaTestSupport.createCublasOrSkip(cuda, stream);
    }

    @AfterEach
    void closeHandle() {
        if (cublas != null) {
            cublas.close();
        }
        stream.close();
    }

    /** Which routine computes the product. */
    enum Routine {
        SGEMM(1e-5), GEMM_EX_FP32(1e-5), GEMM_EX_TF32(4e-3), GEMM_EX_BF16(1.6e-2);

        final double tolerance;

        Routine(double tolerance) {
            this.tolerance = tolerance;
        }
    }

    static Stream<Arguments> shapes() {
        return cases(new int[][] {{1, 1, 1}, {127, 65, 33}, {3, 1, 5}, {16, 16, 16}});
    }

    static Stream<Arguments> paddedShapes() {
        return cases(new int[][] {{127, 65, 33}, {2, 3, 1}});
    }

    /** Every routine and transpose combination for each {m, n, k}. */
    private static Stream<Arguments> cases(int[][] shapes) {
        Stream.Builder<Arguments> cases = Stream.builder();
        for (int[] shape : shapes) {
            for (boolean transA : new boolean[] {false, true}) {
                for (boolean transB : new boolean[] {false, true}) {
                    for (Routine routine : Routine.values()) {
                        cases.add(Arguments.of(routine, shape[0], shape[1], shape[2], transA, transB));
                    }
                }
            }
        }
        return cases.build();
    }

    @ParameterizedTest(name = "{0} m={1} n={2} k={3} transA={4} transB={5}")
    @MethodSource("shapes")
    void rowMajorProductsMatchTheCpu(Routine routine, int m, int n, int k, boolean transA, boolean transB) {
        check(routine, m, n, k, transA, transB, 0);
    }

    @ParameterizedTest(name = "{0} m={1} n={2} k={3} transA={4} transB={5}")
    @MethodSource("paddedShapes")
    void paddedRowStridesAreHonoredAndThePaddingIsNotRead(Routine routine, int m, int n, int k, boolean transA,
                                                           boolean transB) {
        check(routine, m, n, k, transA, transB, 3);
    }

    /**
     * Computes C = alpha op(A) op(B) + beta C with row strides padded by {@code padding} floats (NaN in the
     * padding of A and B: reading it would poison the result) and compares with the CPU in double.
     */
    private void check(Routine routine, int m, int n, int k, boolean transA, boolean transB, int padding) {
        int aRows = transA ? k : m;
        int aColumns = transA ? m : k;
        int bRows = transB ? n : k;
        int bColumns = transB ? k : n;
        int lda = aColumns + padding;
        int ldb = bColumns + padding;
        int ldc = n + padding;
        float[] a = randomMatrix(aRows, aColumns, lda);
        float[] b = randomMatrix(bRows, bColumns, ldb);
        float[] c = randomMatrix(m, n, ldc);
        float alpha = 1.25f;
        float beta = -0.5f;

        float[] result;
        try (DeviceBuffer aBuffer = cuda.allocateFloats(a.length);
             DeviceBuffer bBuffer = cuda.allocateFloats(b.length);
             DeviceBuffer cBuffer = cuda.allocateFloats(c.length)) {
            aBuffer.copyFrom(a);
            bBuffer.copyFrom(b);
            cBuffer.copyFrom(c);
            switch (routine) {
                case SGEMM -> cublas.sgemm(transA, transB, m, n, k, alpha, aBuffer, lda, bBuffer, ldb, beta, cBuffer, ldc);
                case GEMM_EX_FP32 -> cublas.gemmEx(transA, transB, m, n, k, alpha, aBuffer, lda, bBuffer, ldb, beta,
                        cBuffer, ldc, GemmPrecision.FP32);
                case GEMM_EX_TF32 -> cublas.gemmEx(transA, transB, m, n, k, alpha, aBuffer, lda, bBuffer, ldb, beta,
                        cBuffer, ldc, GemmPrecision.TF32);
                case GEMM_EX_BF16 -> cublas.gemmEx(transA, transB, m, n, k, alpha, aBuffer, lda, bBuffer, ldb, beta,
                        cBuffer, ldc, GemmPrecision.BF16);
            }
            stream.synchronize();
            result = cBuffer.toFloatArray();
        }

        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                double magnitude = 0;
                for (int p = 0; p < k; p++) {
                    double aValue = transA ? a[p * lda + i] : a[i * lda + p];
                    double bValue = transB ? b[j * ldb + p] : b[p * ldb + j];
                    sum += aValue * bValue;
                    magnitude += Math.abs(aValue * bValue);
                }
                double expected = alpha * sum + beta * (double) c[i * ldc + j];
                double bound = Math.abs(alpha) * magnitude + Math.abs(beta * c[i * ldc + j]);
                double actual = result[i * ldc + j];
                if (!(Math.abs(actual - expected) <= routine.tolerance * bound + 1e-30)) {
                    fail(routine + " m=" + m + " n=" + n + " k=" + k + " transA=" + transA + " transB=" + transB
                            + " padding=" + padding + ": C[" + i + "][" + j + "] = " + actual + ", expected " + expected
                            + " within " + routine.tolerance + " * " + bound + "; seed=" + seed);
                }
            }
            // The padding after each row but the last (the buffer ends with the last row's n values).
            for (int j = n; j < ldc && i < m - 1; j++) {
                float untouched = c[i * ldc + j];
                assertTrue(Float.floatToRawIntBits(untouched) == Float.floatToRawIntBits(result[i * ldc + j]),
                        "the padding of C was written at row " + i);
            }
        }
    }

    /** rows x columns values in [-1, 1) with row stride ld; NaN in the padding columns. */
    private float[] randomMatrix(int rows, int columns, int ld) {
        float[] values = new float[(rows - 1) * ld + columns];
        Arrays.fill(values, Float.NaN);
        for (int r = 0; r < rows; r++) {
            for (int col = 0; col < columns; col++) {
                values[r * ld + col] = random.nextFloat() * 2f - 1f;
            }
        }
        return values;
    }

    @Test
    void shapesStridesAndSizesAreCheckedBeforeTheCall() {
        try (DeviceBuffer a = cuda.allocateFloats(6);
             DeviceBuffer b = cuda.allocateFloats(12);
             DeviceBuffer c = cuda.allocateFloats(8)) {
            // 2x3 * 3x4 = 2x4 fits exactly.
            cublas.sgemm(false, false, 2, 4, 3, 1f, a, 3, b, 4, 0f, c, 4);
            IllegalArgumentException small = assertThrows(IllegalArgumentException.class,
                    () -> cublas.sgemm(false, false, 3, 4, 3, 1f, a, 3, b, 4, 0f, c, 4));
            assertTrue(small.getMessage().contains("A is stored as 3x3"), small.getMessage());
            assertThrows(IllegalArgumentException.class, () -> cublas.sgemm(false, false, 2, 4, 3, 1f, a, 2, b, 4, 0f, c, 4));
            assertThrows(IllegalArgumentException.class, () -> cublas.sgemm(false, false, 2, 4, 3, 1f, a, 3, b, 3, 0f, c, 4));
            assertThrows(IllegalArgumentException.class, () -> cublas.sgemm(false, false, 2, 4, 3, 1f, a, 3, b, 4, 0f, c, 5));
            assertThrows(IllegalArgumentException.class, () -> cublas.sgemm(false, true, 2, 4, 3, 1f, a, 3, b, 4, 0f, c, 4));
            assertThrows(IllegalArgumentException.class, () -> cublas.sgemm(false, false, 0, 4, 3, 1f, a, 3, b, 4, 0f, c, 4));
            assertThrows(NullPointerException.class,
                    () -> cublas.gemmEx(false, false, 2, 4, 3, 1f, a, 3, b, 4, 0f, c, 4, null));
        }
    }

    @Test
    void theOutputMayNotOverlapAnInput() {
        try (DeviceBuffer ab = cuda.allocateFloats(16)) {
            DeviceBuffer a = ab.sliceFloats(0, 4);
            DeviceBuffer c = ab.sliceFloats(2, 4);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> cublas.sgemm(false, false, 2, 2, 2, 1f, a, 2, ab.sliceFloats(8, 4), 2, 0f, c, 2));
            assertTrue(e.getMessage().contains("overlaps"), e.getMessage());
        }
    }

    @Test
    void aBufferOfAnotherContextIsRefused() {
        try (CudaContext other = CudaRuntime.get().openContext(0);
             DeviceBuffer foreign = other.allocateFloats(1);
             DeviceBuffer b = cuda.allocateFloats(1); DeviceBuffer c = cuda.allocateFloats(1)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> cublas.sgemm(false, false, 1, 1, 1, 1f, foreign, 1, b, 1, 0f, c, 1));
            assertTrue(e.getMessage().contains("A") && e.getMessage().contains("belongs to CudaContext#" + other.id()),
                    e.getMessage());
        }
    }

    @Test
    void closedBuffersHandlesAndStreamsAreRefused() {
        DeviceBuffer a = cuda.allocateFloats(1);
        try (DeviceBuffer b = cuda.allocateFloats(1); DeviceBuffer c = cuda.allocateFloats(1)) {
            a.close();
            assertThrows(IllegalStateException.class, () -> cublas.sgemm(false, false, 1, 1, 1, 1f, a, 1, b, 1, 0f, c, 1));

            CudaStream other = cuda.createStream();
            Cublas onOther = cuda.createCublas(other);
            other.close();
            assertThrows(IllegalStateException.class,
                    () -> onOther.sgemm(false, false, 1, 1, 1, 1f, b, 1, b, 1, 0f, c, 1));
            onOther.close();
            onOther.close();
            assertThrows(IllegalStateException.class, () -> onOther.setMathMode(Cublas.MathMode.DEFAULT));
        }
    }

    @Test
    void mathModesAndTheVersionAreAccepted() {
        for (Cublas.MathMode mode : Cublas.MathMode.values()) {
            cublas.setMathMode(mode);
        }
        cublas.setMathMode(Cublas.MathMode.DEFAULT);
        int version = cublas.version();
        assertTrue(version > 0, "cuBLAS version " + version);
    }
}
