package dev.elbo4j.cuda;

/**
 * A CUDA driver call (or a cuBLAS call, see {@link CublasException}) returned an error, or elbo4j found a
 * CUDA-level problem it can name without asking the driver (a kernel image missing from the jar).
 *
 * <p>The message names the call, the result's enum name, its numeric code and the driver's own text, plus
 * what elbo4j knows about the context (the kernel launched, the JIT log of a failing module load, the last
 * kernel launched before a failing synchronization).
 */
public class CudaException extends RuntimeException {
    /** {@link #resultName()} of an error that elbo4j detected itself, without a driver result. */
    public static final String NO_RESULT = "NONE";
    /** {@link #resultCode()} of an error that elbo4j detected itself, without a driver result. */
    public static final int NO_RESULT_CODE = -1;

    private static final long serialVersionUID = 1L;

    /** The native function or elbo4j operation that failed. */
    private final String call;
    /** The result's enum name, or {@link #NO_RESULT}. */
    private final String resultName;
    /** The numeric result, or {@link #NO_RESULT_CODE}. */
    private final int resultCode;

    /**
     * An error returned by a native call.
     *
     * @param call       the native function, e.g. {@code cuMemAlloc_v2}
     * @param resultCode the numeric result, e.g. 2
     * @param resultName the result's enum name, e.g. {@code CUDA_ERROR_OUT_OF_MEMORY}
     * @param resultText the library's description of the result
     * @param detail     what elbo4j adds (may be empty): the kernel, the JIT log, ...
     */
    public CudaException(String call, int resultCode, String resultName, String resultText, String detail) {
        this(call, resultCode, resultName, formatMessage(call, resultCode, resultName, resultText, detail),
                (Throwable) null);
    }

    /** An error elbo4j detected without a driver result; {@link #resultName()} is {@value #NO_RESULT}. */
    public CudaException(String call, String message) {
        this(call, NO_RESULT_CODE, NO_RESULT, message, (Throwable) null);
    }

    CudaException(String call, int resultCode, String resultName, String message, Throwable cause) {
        super(message, cause);
        this.call = call;
        this.resultCode = resultCode;
        this.resultName = resultName;
    }

    /** The native function that failed (e.g. {@code cuLaunchKernel}), or the elbo4j operation. */
    public String call() {
        return call;
    }

    /** The result's enum name, e.g. {@code CUDA_ERROR_INVALID_VALUE}, or {@value #NO_RESULT}. */
    public String resultName() {
        return resultName;
    }

    /** The numeric result code, or {@value #NO_RESULT_CODE} when the error did not come from a native call. */
    public int resultCode() {
        return resultCode;
    }

    private static String formatMessage(String call, int code, String name, String text, String detail) {
        StringBuilder message = new StringBuilder(call).append(" failed: ").append(name)
                .append(" (").append(code).append(")");
        if (text != null && !text.isBlank()) {
            message.append(": ").append(text);
        }
        if (detail != null && !detail.isBlank()) {
            message.append("; ").append(detail);
        }
        return message.toString();
    }
}
