package dev.elbo4j.cuda;

/**
 * How {@link Cublas#gemmEx} may compute a float32 product (all matrices stay float32 in memory).
 */
public enum GemmPrecision {
    /**
     * Float32 arithmetic (CUBLAS_COMPUTE_32F). Full precision unless the handle's math mode is
     * {@link Cublas.MathMode#TF32_TENSOR_OP}, which lets cuBLAS use TF32 here too.
     */
    FP32(68),
    /** Inputs rounded to TF32 (10-bit mantissa) on tensor cores, float32 accumulation (CUBLAS_COMPUTE_32F_FAST_TF32). */
    TF32(77),
    /**
     * Inputs rounded to bfloat16 (7-bit mantissa) on tensor cores, float32 accumulation
     * (CUBLAS_COMPUTE_32F_FAST_16BF). The data stays float32: no bf16 buffers are needed.
     */
    BF16(75);

    private final int computeType;

    GemmPrecision(int computeType) {
        this.computeType = computeType;
    }

    /** The cublasComputeType_t value. */
    int computeType() {
        return computeType;
    }
}
