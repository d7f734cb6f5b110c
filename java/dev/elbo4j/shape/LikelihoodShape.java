package dev.elbo4j.shape;

/**
 * The likelihood block of a VAE (contract {@code docs/numerical-contract.md}, "Reconstruction log-likelihoods"): the
 * decoder's output for K latent samples of each of B data rows, (K*B) x D (row {@code k*B + b} is scored against data
 * row {@code b}), and the data, B x D.
 *
 * <p>Created once, from named factories ({@code LikelihoodShape.of(batch, dims).withSamples(k)}), and passed whole
 * to every launcher, reference method and backend operation, so that K, B and D cannot be swapped at a call.
 *
 * @param samples K, at least 1
 * @param batch   B, at least 1
 * @param dims    D, at least 1
 */
public record LikelihoodShape(int samples, int batch, int dims) {

    /** Checks every dimension. */
    public LikelihoodShape {
        Dims.positive(samples, "K (samples)");
        Dims.positive(batch, "B (batch)");
        Dims.positive(dims, "D (dims)");
    }

    /** One sample of each of {@code batch} rows of {@code dims} values. */
    public static LikelihoodShape of(int batch, int dims) {
        return new LikelihoodShape(1, batch, dims);
    }

    /** This shape with K = {@code samples}. */
    public LikelihoodShape withSamples(int samples) {
        return new LikelihoodShape(samples, batch, dims);
    }

    /** K x B: the shape of the per-sample log-likelihoods. */
    public SampleShape sampleShape() {
        return new SampleShape(samples, batch);
    }

    /** (K*B) x D: the floats of the decoder output (logits or means) and of its gradient. */
    public long outputElements() {
        return Dims.product("decoder output (K*B x D)", samples, batch, dims);
    }

    /** B x D: the elements of the data. */
    public long dataElements() {
        return Dims.product("x (B x D)", batch, dims);
    }

    @Override
    public String toString() {
        return "K x B x D = " + Dims.render(samples, batch, dims);
    }
}
