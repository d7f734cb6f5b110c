package dev.elbo4j.shape;

/**
 * The latent block of a VAE (contract {@code docs/numerical-contract.md}, "Reparameterization"): the encoder's output
 * {@code [mu | logvar]}, B rows of {@code rowStride} floats with mu in columns [0, L) and logvar in [L, 2L), and the
 * K samples drawn from it, {@code z} (K x B x L, sample k of row b at {@code (k*B + b)*L + l}).
 *
 * <p>Created once, from named factories ({@code LatentShape.of(batch, latent).withSamples(k)}), and passed whole
 * to every launcher, reference method and backend operation, so that K, B and L cannot be swapped at a call.
 *
 * @param samples   K, at least 1
 * @param batch     B, at least 1
 * @param latent    L, at least 1
 * @param rowStride floats per row of {@code [mu | logvar]}, at least 2L
 */
public record LatentShape(int samples, int batch, int latent, int rowStride) {

    /** Checks every dimension and that a row holds {@code [mu | logvar]}. */
    public LatentShape {
        Dims.positive(samples, "K (samples)");
        Dims.positive(batch, "B (batch)");
        Dims.positive(latent, "L (latent)");
        if (rowStride < 2L * latent) {
            throw new IllegalArgumentException("rowStride " + rowStride + " is less than 2L = " + 2L * latent
                    + ": a row of [mu | logvar] needs 2L floats");
        }
    }

    /** One sample of each of {@code batch} rows of a {@code latent}-dimensional posterior, rows packed (2L). */
    public static LatentShape of(int batch, int latent) {
        Dims.positive(latent, "L (latent)");
        if (latent > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("L (latent) = " + latent + ": a packed row of 2L floats does not fit an"
                    + " int row stride");
        }
        return new LatentShape(1, batch, latent, 2 * latent);
    }

    /** This shape with K = {@code samples}. */
    public LatentShape withSamples(int samples) {
        return new LatentShape(samples, batch, latent, rowStride);
    }

    /** This shape with {@code [mu | logvar]} rows of {@code rowStride} floats. */
    public LatentShape withRowStride(int rowStride) {
        return new LatentShape(samples, batch, latent, rowStride);
    }

    /** K x B: the shape of the per-sample outputs (log-density ratios). */
    public SampleShape sampleShape() {
        return new SampleShape(samples, batch);
    }

    /** B x rowStride: the floats {@code [mu | logvar]} spans. */
    public long encoderElements() {
        return Dims.product("muLogvar (B x rowStride)", batch, rowStride);
    }

    /** K x B x L: the floats of {@code z} (and of its gradient). */
    public long sampleElements() {
        return Dims.product("z (K x B x L)", samples, batch, latent);
    }

    @Override
    public String toString() {
        return "K x B x L = " + Dims.render(samples, batch, latent) + " (rowStride " + rowStride + ")";
    }
}
