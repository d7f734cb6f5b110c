package dev.elbo4j.nn;

/**
 * The weight of the KL term in the training loss: beta, a linear warm-up from 0 and free bits.
 *
 * @param beta         the KL weight after warm-up (1 for the ELBO), finite and at least 0
 * @param warmupSteps  beta rises linearly from 0 over this many steps (0: no warm-up)
 * @param freeBits     a floor in nats per latent dimension on the batch-mean KL of that dimension (0: none)
 */
public record KlSchedule(float beta, long warmupSteps, float freeBits) {

    /** Checks the values. */
    public KlSchedule {
        if (!(beta >= 0) || Float.isInfinite(beta)) {
            throw new IllegalArgumentException("beta must be finite and at least 0 but is " + beta);
        }
        if (warmupSteps < 0) {
            throw new IllegalArgumentException("KL warm-up steps must be at least 0 but is " + warmupSteps);
        }
        if (!(freeBits >= 0) || Float.isInfinite(freeBits)) {
            throw new IllegalArgumentException("free bits must be finite and at least 0 but is " + freeBits);
        }
    }

    /**
     * The KL weight of step {@code step} (0-based):
     * {@code (float) (beta * min(1, step / (double) warmupSteps))}, or {@code beta} without warm-up. Backends
     * evaluate exactly this expression (double, rounded once to float).
     */
    public float betaAt(long step) {
        if (warmupSteps == 0 || step >= warmupSteps) {
            return beta;
        }
        return (float) (beta * ((double) step / (double) warmupSteps));
    }
}
