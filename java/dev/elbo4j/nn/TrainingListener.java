package dev.elbo4j.nn;

/**
 * Receives a {@link Trainer}'s reports, on the training thread (a listener may evaluate the model there, e.g. the
 * test ELBO at an epoch's end).
 */
public interface TrainingListener {

    /**
     * Every {@link TrainingOptions#progressEverySteps()} steps.
     *
     * @param epoch          1-based
     * @param stepInEpoch    steps done in this epoch
     * @param stepsPerEpoch  steps in an epoch
     * @param status         the step state now (the last step's loss, the epoch's sums, the counters)
     * @param stepsPerSecond over the steps since the last report
     */
    record Progress(int epoch, int stepInEpoch, int stepsPerEpoch, StepStatus status, double stepsPerSecond) {
    }

    /**
     * The end of an epoch.
     *
     * @param epoch          1-based
     * @param steps          steps in it (after a resume: those run since)
     * @param trainLoss      mean training loss over its steps (NaN-loss steps excluded)
     * @param trainElbo      mean ELBO estimate (beta = 1) over its training batches, nats per data point
     * @param trainKl        mean KL over its training batches
     * @param seconds        wall time of its steps
     * @param stepsPerSecond steps / seconds
     * @param skipped        steps skipped by the non-finite guard since training started
     * @param status         the step state at its end
     */
    record EpochResult(int epoch, int steps, double trainLoss, double trainElbo, double trainKl, double seconds,
                       double stepsPerSecond, long skipped, StepStatus status) {
    }

    /** A progress report (default: ignored). */
    default void onProgress(Progress progress) {
    }

    /** An epoch's end (default: ignored). */
    default void onEpochEnd(EpochResult result) {
    }
}
