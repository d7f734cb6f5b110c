package dev.elbo4j.shape;

/**
 * K samples of each of B data rows: the shape of every per-sample output (the likelihood's log p, the latent
 * forward's log-density ratio, the IWAE log weights), K x B, sample k of row b at index {@code k*B + b}. With
 * K = 1 it is the shape of a per-row output (KL, ELBO), B.
 *
 * <p>Created once, from named factories, and passed whole to every launcher, reference method and backend
 * operation, so that K and B cannot be swapped at a call.
 *
 * @param samples K, at least 1
 * @param batch   B, at least 1
 */
public record SampleShape(int samples, int batch) {

    /** Checks both dimensions. */
    public SampleShape {
        Dims.positive(samples, "K (samples)");
        Dims.positive(batch, "B (batch)");
    }

    /** One sample of each of {@code batch} rows. */
    public static SampleShape of(int batch) {
        return new SampleShape(1, batch);
    }

    /** This shape with K = {@code samples}. */
    public SampleShape withSamples(int samples) {
        return new SampleShape(samples, batch);
    }

    /** K*B, the number of (sample, row) pairs. */
    public long rows() {
        return (long) samples * batch;
    }

    @Override
    public String toString() {
        return "K x B = " + Dims.render(samples, batch);
    }
}
