package dev.elbo4j.nn;

import java.util.Objects;

/**
 * Everything besides the parameters that a run needs to continue exactly where it stopped: where it is in the data
 * (the order of epoch e is a function of the spec's seed and e alone), the step state (counters, the current
 * epoch's sums) and Adam's moments. A run resumed from it continues bit-identically to one never interrupted.
 *
 * @param epoch         the current epoch, 0-based (the number of epochs completed)
 * @param stepInEpoch   steps of it done
 * @param batchSize     B of the run (a resumed run must use the same)
 * @param status        the step state
 * @param firstMoments  Adam's m, the layout's flat size
 * @param secondMoments Adam's v, the layout's flat size
 */
public record TrainingState(int epoch, int stepInEpoch, int batchSize, StepStatus status, float[] firstMoments,
                            float[] secondMoments) {

    /** Checks the values (the arrays are kept, not copied). */
    public TrainingState {
        if (epoch < 0 || stepInEpoch < 0 || batchSize < 1) {
            throw new IllegalArgumentException("bad position: epoch " + epoch + ", step " + stepInEpoch
                    + ", batch size " + batchSize);
        }
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(firstMoments, "firstMoments");
        Objects.requireNonNull(secondMoments, "secondMoments");
        if (firstMoments.length != secondMoments.length) {
            throw new IllegalArgumentException("the moments differ in length: " + firstMoments.length + " and "
                    + secondMoments.length);
        }
    }
}
