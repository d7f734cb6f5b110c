package dev.elbo4j.nn;

/**
 * The values of a {@link Backend.StepState} as the host sees them ({@link Backend#readState}): the counters that
 * drive a training step and what the last step measured.
 *
 * @param step           steps begun and ended so far; the Philox offset of the next step's noise is its low 32
 *                       bits, and the KL warm-up is evaluated at it
 * @param updates        Adam updates applied (skipped steps excluded): the bias-correction step of the last update
 * @param cursor         position in the epoch's shuffled order of the next batch's first row
 * @param skipped        steps skipped by the non-finite guard in this run, in total
 * @param skippedInARow  steps skipped since the last applied update
 * @param loss           the last step's loss (the objective minimized, with the step's beta and free bits)
 * @param elbo           the last step's mean ELBO estimate (beta = 1), nats per data point
 * @param kl             the last step's mean KL(q(z|x) || p(z)), nats per data point
 * @param beta           the KL weight of the last step (after warm-up)
 * @param gradientNorm   the last step's global L2 gradient norm, before clipping
 * @param lossSum        sum of the finite step losses since the sums were last set (an epoch)
 * @param elboSum        sum of those steps' mean ELBOs
 * @param klSum          sum of those steps' mean KLs
 * @param summedSteps    how many steps the sums hold
 */
public record StepStatus(long step, long updates, long cursor, long skipped, long skippedInARow, float loss,
                         float elbo, float kl, float beta, float gradientNorm, double lossSum, double elboSum,
                         double klSum, long summedSteps) {

    /** Checks that the counters are not negative. */
    public StepStatus {
        if (step < 0 || updates < 0 || cursor < 0 || skipped < 0 || skippedInARow < 0 || summedSteps < 0) {
            throw new IllegalArgumentException("negative counter in " + this);
        }
    }

    /** Everything 0 (loss, ELBO, norm NaN: nothing measured yet). */
    public static StepStatus initial() {
        return new StepStatus(0, 0, 0, 0, 0, Float.NaN, Float.NaN, Float.NaN, 0f, Float.NaN, 0, 0, 0, 0);
    }

    /** This status with the step counter at {@code step} (the noise offset of evaluations) and the cursor at 0. */
    public StepStatus atStep(long step) {
        return new StepStatus(step, updates, 0, skipped, skippedInARow, loss, elbo, kl, beta, gradientNorm, lossSum,
                elboSum, klSum, summedSteps);
    }

    /** This status with the cursor at {@code cursor} and the sums cleared: the start of an epoch. */
    public StepStatus atEpochStart(long cursor) {
        return new StepStatus(step, updates, cursor, skipped, skippedInARow, loss, elbo, kl, beta, gradientNorm, 0, 0,
                0, 0);
    }

    /** The Philox offset of the step counter: its low 32 bits. */
    public int noiseOffset() {
        return (int) step;
    }

    /** Mean loss of the summed steps (NaN when none). */
    public double meanLoss() {
        return summedSteps == 0 ? Double.NaN : lossSum / summedSteps;
    }

    /** Mean ELBO of the summed steps (NaN when none). */
    public double meanElbo() {
        return summedSteps == 0 ? Double.NaN : elboSum / summedSteps;
    }

    /** Mean KL of the summed steps (NaN when none). */
    public double meanKl() {
        return summedSteps == 0 ? Double.NaN : klSum / summedSteps;
    }
}
