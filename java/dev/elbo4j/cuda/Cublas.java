package dev.elbo4j.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A cuBLAS handle bound to one stream, with a ROW-MAJOR matrix product:
 * {@code C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C}, where {@code op(X)} is X or its
 * transpose. Matrices are float32, stored row by row; {@code lda}, {@code ldb}, {@code ldc} are the row
 * strides in floats of the matrices as stored (A is stored m x k, or k x m when transposed; B is stored
 * k x n, or n x k when transposed). cuBLAS's column-major convention never reaches the caller.
 *
 * <p>Calls are asynchronous on the handle's stream. Shapes, strides and buffer sizes are checked in Java
 * first ({@link IllegalArgumentException}); C may not overlap A or B. {@link #close()} destroys the handle.
 */
public final class Cublas extends ContextResource {
    /** cublasMath_t: which shortcuts cuBLAS may take. */
    public enum MathMode {
        /** Tensor cores where they keep float32 results for float32 compute (CUBLAS_DEFAULT_MATH). */
        DEFAULT(0),
        /** The most accurate algorithms only (CUBLAS_PEDANTIC_MATH). */
        PEDANTIC(2),
        /** Float32 products may round their inputs to TF32 (CUBLAS_TF32_TENSOR_OP_MATH). */
        TF32_TENSOR_OP(3);

        private final int value;

        MathMode(int value) {
            this.value = value;
        }
    }

    private final CublasApi api;
    private final long handle;
    private final CudaStream stream;

    private Cublas(CudaContext context, CublasApi api, long handle, CudaStream stream) {
        super(context);
        this.api = api;
        this.handle = handle;
        this.stream = stream;
    }

    /** Creates a handle and binds it to the stream; the context is current. */
    static Cublas create(CudaContext context, CublasApi api, CudaStream stream, long streamHandle) {
        long handle;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            api.check(api.create(out), "cublasCreate_v2", "");
            handle = out.get(JAVA_LONG, 0);
        }
        int bound = api.setStream(handle, streamHandle);
        if (bound != CublasApi.CUBLAS_STATUS_SUCCESS) {
            api.destroy(handle);
            api.check(bound, "cublasSetStream_v2", "");
        }
        return new Cublas(context, api, handle, stream);
    }

    /**
     * Row-major float32 product with cublasSgemm: {@code C = alpha * op(A) * op(B) + beta * C}.
     *
     * @param transA use A's transpose (A stored k x m)
     * @param transB use B's transpose (B stored n x k)
     * @param m      rows of op(A) and C, at least 1
     * @param n      columns of op(B) and C, at least 1
     * @param k      columns of op(A), rows of op(B), at least 1
     * @param alpha  scale of the product
     * @param a      A, row-major, spanning at least (rows - 1) * lda + columns floats
     * @param lda    row stride of A as stored, in floats (at least its column count)
     * @param b      B, row-major, spanning at least (rows - 1) * ldb + columns floats
     * @param ldb    row stride of B as stored, in floats (at least its column count)
     * @param beta   scale of C's previous contents (0: C is only written)
     * @param c      C, row-major m x n, spanning at least (m - 1) * ldc + n floats; not overlapping A or B
     * @param ldc    row stride of C, in floats (at least n)
     * @throws IllegalArgumentException when a size is below 1, a stride is too small, a buffer too short, or C
     *                                  overlaps A or B
     * @throws IllegalStateException    when a buffer, this handle or its stream is closed
     * @throws CublasException          when cuBLAS reports an error
     */
    public void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, DeviceBuffer a, int lda,
                      DeviceBuffer b, int ldb, float beta, DeviceBuffer c, int ldc) {
        gemm(null, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /**
     * The same product as {@link #sgemm} (same parameters and checks) with cublasGemmEx on float32 matrices
     * at the given compute precision.
     *
     * @param precision FP32, TF32 (inputs rounded to TF32) or BF16 (inputs rounded to bfloat16)
     */
    public void gemmEx(boolean transA, boolean transB, int m, int n, int k, float alpha, DeviceBuffer a, int lda,
                       DeviceBuffer b, int ldb, float beta, DeviceBuffer c, int ldc, GemmPrecision precision) {
        Objects.requireNonNull(precision, "precision");
        gemm(precision, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /** Sets the handle's math mode (cublasSetMathMode). */
    public void setMathMode(MathMode mode) {
        Objects.requireNonNull(mode, "mode");
        enter();
        try {
            context.ensureCurrent();
            api.check(api.setMathMode(handle, mode.value), "cublasSetMathMode", mode.name());
        } finally {
            exit();
        }
    }

    /** cuBLAS's version number, e.g. 130001 for 13.0.1 (cublasGetVersion). */
    public int version() {
        enter();
        try (Arena arena = Arena.ofConfined()) {
            context.ensureCurrent();
            MemorySegment version = arena.allocate(JAVA_INT);
            api.check(api.getVersion(handle, version), "cublasGetVersion_v2", "");
            return version.get(JAVA_INT, 0);
        } finally {
            exit();
        }
    }

    /** The stream this handle's work goes to (null: the legacy default stream). */
    public CudaStream stream() {
        return stream;
    }

    /** Destroys the handle. */
    @Override
    void release() {
        api.check(api.destroy(handle), "cublasDestroy_v2", "");
    }

    @Override
    String identity() {
        return api.library();
    }

    @Override
    void checkOpen() {
        super.checkOpen();
        if (stream != null && stream.isClosed()) {
            throw new IllegalStateException(this + ": its stream " + stream + " is closed");
        }
    }

    /** Checks the row-major call, converts it, and runs cublasSgemm (precision null) or cublasGemmEx. */
    private void gemm(GemmPrecision precision, boolean transA, boolean transB, int m, int n, int k, float alpha,
                      DeviceBuffer a, int lda, DeviceBuffer b, int ldb, float beta, DeviceBuffer c, int ldc) {
        String call = precision == null ? "sgemm" : "gemmEx(" + precision + ")";
        Objects.requireNonNull(a, "a");
        Objects.requireNonNull(b, "b");
        Objects.requireNonNull(c, "c");
        checkOpen();
        if (m < 1 || n < 1 || k < 1) {
            throw new IllegalArgumentException(call + ": m, n, k must be at least 1, got m=" + m + " n=" + n + " k=" + k);
        }
        long aBytes = checkOperand(call, "A", a, transA ? k : m, transA ? m : k, lda);
        long bBytes = checkOperand(call, "B", b, transB ? n : k, transB ? k : n, ldb);
        long cBytes = checkOperand(call, "C", c, m, n, ldc);
        checkNoOverlap(call, "A", a, aBytes, c, cBytes);
        checkNoOverlap(call, "B", b, bBytes, c, cBytes);

        ColumnMajorGemm cm = toColumnMajor(transA, transB, m, n, k, a.address(), lda, b.address(), ldb,
                c.address(), ldc);
        // The handle, its stream and the operands stay open until cuBLAS has enqueued the product.
        List<ContextResource> held = new ArrayList<>(5);
        context.enterStream(stream);
        try (Arena arena = Arena.ofConfined()) {
            for (ContextResource resource : new ContextResource[] {this, a, b, c}) {
                resource.enter();
                held.add(resource);
            }
            context.ensureCurrent();
            // Host pointer mode (cuBLAS's default): alpha and beta are read during the call.
            MemorySegment alphaValue = arena.allocateFrom(JAVA_FLOAT, alpha);
            MemorySegment betaValue = arena.allocateFrom(JAVA_FLOAT, beta);
            String detail = "row-major m=" + m + " n=" + n + " k=" + k + " transA=" + transA + " transB=" + transB
                    + " lda=" + lda + " ldb=" + ldb + " ldc=" + ldc;
            if (precision == null) {
                api.check(api.sgemm(handle, cm.transA(), cm.transB(), cm.m(), cm.n(), cm.k(), alphaValue,
                        cm.a(), cm.lda(), cm.b(), cm.ldb(), betaValue, cm.c(), cm.ldc()), "cublasSgemm_v2", detail);
            } else {
                api.check(api.gemmEx(handle, cm.transA(), cm.transB(), cm.m(), cm.n(), cm.k(), alphaValue,
                        cm.a(), CublasApi.CUDA_R_32F, cm.lda(), cm.b(), CublasApi.CUDA_R_32F, cm.ldb(), betaValue,
                        cm.c(), CublasApi.CUDA_R_32F, cm.ldc(), precision.computeType(), CublasApi.CUBLAS_GEMM_DEFAULT),
                        "cublasGemmEx", detail + " compute=" + precision);
            }
        } finally {
            held.forEach(ContextResource::exit);
            CudaContext.exitStream(stream);
        }
    }

    /** A cuBLAS (column-major) gemm call: operations, shape, pointers and leading dimensions. */
    private record ColumnMajorGemm(int transA, int transB, int m, int n, int k,
                                   long a, int lda, long b, int ldb, long c, int ldc) {
    }

    /**
     * The one place that maps row-major to cuBLAS's column-major convention. A row-major matrix with row
     * stride ld is, read column-major, its transpose with leading dimension ld. So row-major
     * {@code C = op(A) op(B)} is column-major {@code C^T = op(B)^T op(A)^T}: swap the operands (B first),
     * swap m and n, keep each operand's own transpose flag and stride.
     */
    private static ColumnMajorGemm toColumnMajor(boolean transA, boolean transB, int m, int n, int k,
                                                 long a, int lda, long b, int ldb, long c, int ldc) {
        return new ColumnMajorGemm(
                transB ? CublasApi.CUBLAS_OP_T : CublasApi.CUBLAS_OP_N,
                transA ? CublasApi.CUBLAS_OP_T : CublasApi.CUBLAS_OP_N,
                n, m, k, b, ldb, a, lda, c, ldc);
    }

    /**
     * Checks that a buffer holds a row-major rows x columns matrix with row stride ld; returns the bytes the
     * matrix spans.
     */
    private long checkOperand(String call, String operand, DeviceBuffer buffer, int rows, int columns, int ld) {
        if (buffer.isClosed()) {
            throw new IllegalStateException(call + ": " + operand + " " + buffer + " is closed");
        }
        context.checkSameContext(buffer.context(), call + ": " + operand + " " + buffer);
        if (!buffer.isAligned(Float.BYTES)) {
            throw new IllegalArgumentException(call + ": " + operand + " " + buffer + " starts at an address that is"
                    + " not a multiple of 4 bytes, which a float32 matrix needs (a slice at a byte offset that is not a"
                    + " whole number of floats)");
        }
        if (ld < columns) {
            throw new IllegalArgumentException(call + ": " + operand + " is stored as " + rows + "x" + columns
                    + " (row-major), so its row stride must be at least " + columns + ", got " + ld);
        }
        long floats = (long) (rows - 1) * ld + columns;
        if (buffer.byteSize() < floats * Float.BYTES) {
            throw new IllegalArgumentException(call + ": " + operand + " is stored as " + rows + "x" + columns
                    + " with row stride " + ld + ", which spans " + floats + " floats, but " + buffer + " holds "
                    + buffer.floatCount() + " floats");
        }
        return floats * Float.BYTES;
    }

    private static void checkNoOverlap(String call, String operand, DeviceBuffer input, long inputBytes,
                                       DeviceBuffer output, long outputBytes) {
        long in = input.address();
        long out = output.address();
        if (in < out + outputBytes && out < in + inputBytes) {
            throw new IllegalArgumentException(call + ": C overlaps " + operand + " (cuBLAS requires separate memory)");
        }
    }
}
