package dev.elbo4j.nn;

/** The decoder's likelihood p(x | z) (spec, "Reconstruction log-likelihoods"). */
public enum Likelihood {
    /** Bernoulli on logits: the decoder outputs D logits per row. */
    BERNOULLI,
    /** Gaussian with a fixed log-variance ({@link VaeSpec#fixedLogVariance()}): the decoder outputs D means. */
    GAUSSIAN_FIXED,
    /** Gaussian with a learned log-variance per dimension (a parameter vector {@code decoder.logvar} of D). */
    GAUSSIAN_PER_DIMENSION,
    /** Gaussian whose log-variance the decoder outputs per row (a second head, {@code decoder.logvar.*}). */
    GAUSSIAN_PER_ROW;

    /** Whether this is one of the Gaussian likelihoods. */
    public boolean isGaussian() {
        return this != BERNOULLI;
    }
}
