package dev.elbo4j.cuda;

import java.util.List;

/**
 * No usable CUDA backend: the driver library (or cuBLAS, which is looked for only when a {@link Cublas} is
 * created) could not be found or loaded, lacks a symbol elbo4j needs, or reports no device.
 *
 * <p>The message lists every place that was tried and why each failed; {@link #attempts()} gives the same
 * list one entry per place.
 */
public final class CudaUnavailableException extends CudaException {
    private static final long serialVersionUID = 1L;

    /** An array rather than a List so that the exception stays serializable. */
    private final String[] attempts;

    /**
     * No backend: the message is {@code what}, then every place tried, then the hint.
     *
     * @param what     what is missing, e.g. "no CUDA driver library could be loaded"
     * @param attempts one line per place tried: the place and why it failed
     * @param hint     how to fix it (may be empty)
     */
    public CudaUnavailableException(String what, List<String> attempts, String hint) {
        this(what, attempts, hint, null);
    }

    CudaUnavailableException(String what, List<String> attempts, String hint, Throwable cause) {
        super("CUDA library discovery", NO_RESULT_CODE, NO_RESULT, formatMessage(what, attempts, hint), cause);
        this.attempts = attempts.toArray(String[]::new);
    }

    /** A driver call that made the backend unusable, e.g. {@code cuInit} returning CUDA_ERROR_NO_DEVICE. */
    CudaUnavailableException(CudaException driverError, String library) {
        super(driverError.call(), driverError.resultCode(), driverError.resultName(),
                "the CUDA driver library " + library + " loaded, but " + driverError.getMessage(), driverError);
        this.attempts = new String[] {library + ": " + driverError.getMessage()};
    }

    /** Rethrown on later calls: same message and attempts, the first failure as the cause. */
    CudaUnavailableException(CudaUnavailableException first) {
        super(first.call(), first.resultCode(), first.resultName(), first.getMessage(), first);
        this.attempts = first.attempts;
    }

    /** Every place tried, each with the reason it failed, in the order tried. */
    public List<String> attempts() {
        return List.of(attempts);
    }

    private static String formatMessage(String what, List<String> attempts, String hint) {
        StringBuilder message = new StringBuilder(what).append("; tried:");
        for (String attempt : attempts) {
            message.append("\n  - ").append(attempt);
        }
        if (hint != null && !hint.isBlank()) {
            message.append("\n").append(hint);
        }
        return message.toString();
    }
}
