package dev.elbo4j.reference;

/**
 * The evidence lower bound and the training loss from per-row terms (spec, "The ELBO and the loss"), with
 * K = 1: {@code ELBO_b = log p(x_b | z_b) - KL_b}, {@code loss = -(1/B) sum_b (log p_b - beta * KL_b)}.
 * Per-row inputs are float32 (B each, in nats); the batch sums accumulate in double and are returned unrounded.
 */
public final class Elbo {

    private Elbo() {
    }

    /**
     * The batch loss {@code -(1/B) sum_b (logp_b - beta * KL_b)} in nats per row.
     *
     * @param logp B, log p(x_b | z_b)
     * @param kl   B, KL_b
     * @param beta KL weight: 1 for the ELBO, other values for beta-VAE training only
     */
    public static double loss(float[] logp, float[] kl, int rows, float beta) {
        check(logp, kl, rows);
        double sum = 0;
        for (int b = 0; b < rows; b++) {
            sum += (double) logp[b] - (double) beta * kl[b];
        }
        return -sum / rows;
    }

    /** The mean ELBO over the batch, {@code (1/B) sum_b (logp_b - KL_b)}, in nats per row (beta = 1). */
    public static double mean(float[] logp, float[] kl, int rows) {
        return -loss(logp, kl, rows, 1f);
    }

    /**
     * The per-row ELBO.
     *
     * @param elbo output, B: {@code logp_b - KL_b}
     */
    public static void perRow(float[] logp, float[] kl, int rows, float[] elbo) {
        check(logp, kl, rows);
        Check.shape(elbo, "elbo", "B", rows);
        for (int b = 0; b < rows; b++) {
            elbo[b] = (float) ((double) logp[b] - kl[b]);
        }
    }

    /** A bound in nats per data point as bits per dimension: {@code -nats / (D ln 2)} (lower is better). */
    public static double bitsPerDimension(double natsPerRow, int dims) {
        Check.positive(dims, "D (dims)");
        return -natsPerRow / (dims * Math.log(2.0));
    }

    private static void check(float[] logp, float[] kl, int rows) {
        Check.positive(rows, "B (rows)");
        Check.shape(logp, "logp", "B", rows);
        Check.shape(kl, "kl", "B", rows);
    }
}
