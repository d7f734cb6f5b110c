package dev.elbo4j.cuda;

/**
 * A cuBLAS call returned a status other than {@code CUBLAS_STATUS_SUCCESS}; {@link #resultName()} is the
 * status name (e.g. {@code CUBLAS_STATUS_INVALID_VALUE}) and {@link #resultCode()} its value.
 */
public final class CublasException extends CudaException {
    private static final long serialVersionUID = 1L;

    /**
     * A status returned by a cuBLAS call.
     *
     * @param call       the cuBLAS function, e.g. {@code cublasSgemm_v2}
     * @param status     the numeric {@code cublasStatus_t}
     * @param statusName its enum name
     * @param statusText cuBLAS's description (may be empty when the library cannot describe it)
     * @param detail     what elbo4j adds, e.g. the shapes
     */
    public CublasException(String call, int status, String statusName, String statusText, String detail) {
        super(call, status, statusName, statusText, detail);
    }
}
