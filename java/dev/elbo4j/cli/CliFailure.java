package dev.elbo4j.cli;

/**
 * A failure the user can fix (missing data, a checkpoint that does not fit, no usable GPU): its message is the
 * whole report, printed as one line, and the command exits with {@link Main#EXIT_FAILURE}.
 */
final class CliFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    CliFailure(String message) {
        super(message);
    }

    CliFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
