package dev.elbo4j.reference;

import dev.elbo4j.shape.SampleShape;

/**
 * The evidence lower bound and the training loss from per-row terms (contract, "The ELBO and the loss"), with
 * K = 1: {@code ELBO_b = log p(x_b | z_b) - KL_b}, {@code loss = -(1/B) sum_b (log p_b - beta * KL_b)}.
 * Per-row inputs are float32 (B each, in nats); the batch sums accumulate in double and are returned unrounded.
 */
public final class Elbo {

    private Elbo() {
    }

    /**
     * The batch loss {@code -(1/B) sum_b (logp_b - beta * KL_b)} in nats per row.
     *
     * @param rows B rows, one value each ({@code SampleShape.of(B)})
     * @param logp B, log p(x_b | z_b)
     * @param kl   B, KL_b
     * @param beta KL weight: 1 for the ELBO, other values for beta-VAE training only
     */
    public static double loss(SampleShape rows, float[] logp, float[] kl, float beta) {
        check(rows, logp, kl);
        double sum = 0;
        for (int b = 0; b < rows.batch(); b++) {
            sum += (double) logp[b] - (double) beta * kl[b];
        }
        return -sum / rows.batch();
    }

    /** The mean ELBO over the batch, {@code (1/B) sum_b (logp_b - KL_b)}, in nats per row (beta = 1). */
    public static double mean(SampleShape rows, float[] logp, float[] kl) {
        return -loss(rows, logp, kl, 1f);
    }

    /**
     * The per-row ELBO.
     *
     * @param elbo output, B: {@code logp_b - KL_b}
     */
    public static void perRow(SampleShape rows, float[] logp, float[] kl, float[] elbo) {
        check(rows, logp, kl);
        Check.shape(elbo, "elbo", "B", rows.batch());
        for (int b = 0; b < rows.batch(); b++) {
            elbo[b] = (float) ((double) logp[b] - kl[b]);
        }
    }

    /** A bound in nats per data point as bits per dimension: {@code -nats / (D ln 2)} (lower is better). */
    public static double bitsPerDimension(double natsPerRow, int dims) {
        Check.positive(dims, "D (dims)");
        return -natsPerRow / (dims * Math.log(2.0));
    }

    private static void check(SampleShape rows, float[] logp, float[] kl) {
        Check.oneSamplePerRow(rows, "Elbo");
        Check.shape(logp, "logp", "B", rows.batch());
        Check.shape(kl, "kl", "B", rows.batch());
    }
}
