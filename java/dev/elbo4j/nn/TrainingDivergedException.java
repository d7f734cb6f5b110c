package dev.elbo4j.nn;

/**
 * Training stopped because too many steps in a row had a non-finite loss or gradient norm; the parameters and the
 * optimizer's moments are those of the last good step (the guard skipped every bad one).
 */
public final class TrainingDivergedException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    private final transient StepStatus status;

    /** An exception for the state {@code status}, whose guard counters exceeded {@code limit}. */
    public TrainingDivergedException(StepStatus status, int limit) {
        super("training diverged: " + status.skippedInARow() + " steps in a row (limit " + limit
                + ") had a non-finite loss or gradient norm, up to step " + status.step() + " (last loss "
                + status.loss() + ", gradient norm " + status.gradientNorm() + "); the parameters are those of "
                + "the last finite step. Lower the learning rate, clip gradients, or check the data");
        this.status = status;
    }

    /** The step state when training stopped. */
    public StepStatus status() {
        return status;
    }
}
