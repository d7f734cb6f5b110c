package dev.elbo4j.reference;

import java.util.Objects;

import dev.elbo4j.shape.LikelihoodShape;

/**
 * The Bernoulli reconstruction log-likelihood with logits (contract, "Reconstruction log-likelihoods"):
 * {@code log p(x_b | l) = sum_d [x_d * l_d - softplus(l_d)]}, with the stable
 * {@code softplus(l) = max(l, 0) + log1p(exp(-|l|))}, in nats. Logits of {@code +-Inf} are defined by the limit
 * (see {@link #logTerm}): the kernels give the same values.
 *
 * <p>Shapes, from one {@link LikelihoodShape} (K, B, D): {@code logits} K x B x D (the decoder's output for K latent
 * samples of each of B data rows; K = 1 for the plain ELBO), {@code x} B x D; logits row {@code k*B + b} is scored
 * against x row {@code b}, so all K samples of a row see the same (binarized) data. {@code logp} is K x B. Arithmetic
 * is double from the float32 inputs; each output is rounded once to float32.
 */
public final class Bernoulli {

    private Bernoulli() {
    }

    /**
     * Per-row log-likelihoods.
     *
     * @param shape  K, B, D
     * @param logits K x B x D
     * @param x      B x D, values in [0, 1]
     * @param logp   output, K x B: {@code logp[k*B + b]}
     */
    public static void logProb(LikelihoodShape shape, float[] logits, Targets x, float[] logp) {
        check(shape, logits, x, logp);
        int rows = shape.batch();
        int dims = shape.dims();
        Rows.forEach(shape.samples() * rows, dims, r -> {
            float[] xRow = new float[dims];
            x.row(r % rows, dims, xRow);
            logp[r] = (float) rowLogProb(logits, r, dims, xRow);
        });
    }

    /**
     * Per-row log-likelihoods and the logit gradient of the loss, already scaled and signed as the decoder's
     * backward GEMM consumes it:
     * <pre>
     *   grad[k][b][d] = gradScale * (sigmoid(l) - x) = gradScale * d(-log p_kb)/d l
     * </pre>
     * The loss is {@code -sum_r w_r log p_r}; {@code gradScale} is the row weight {@code w}: {@code 1/B} for the
     * batch-mean loss {@code -(1/B) sum_b log p_b}, {@code 1/(K*B)} when it also averages K samples.
     *
     * @param grad output, K x B x D
     */
    public static void logProbAndGrad(LikelihoodShape shape, float[] logits, Targets x, float gradScale, float[] logp,
                                      float[] grad) {
        check(shape, logits, x, logp);
        int rows = shape.batch();
        int dims = shape.dims();
        Check.shape(grad, "grad", "K x B x D", shape.samples(), rows, dims);
        Rows.forEach(shape.samples() * rows, dims, r -> {
            float[] xRow = new float[dims];
            x.row(r % rows, dims, xRow);
            logp[r] = (float) rowLogProb(logits, r, dims, xRow);
            for (int d = 0; d < dims; d++) {
                double l = logits[r * dims + d];
                grad[r * dims + d] = (float) (gradScale * (sigmoid(l) - xRow[d]));
            }
        });
    }

    /** {@code log(1 + e^l)} without overflow or loss of precision for either sign. */
    public static double softplus(double l) {
        return Math.max(l, 0.0) + Math.log1p(Math.exp(-Math.abs(l)));
    }

    /** {@code 1 / (1 + e^-l)}, evaluated so that no exponential overflows for either sign. */
    public static double sigmoid(double l) {
        if (l >= 0) {
            return 1.0 / (1.0 + Math.exp(-l));
        }
        double e = Math.exp(l);
        return e / (1.0 + e);
    }

    /**
     * One element's {@code x * l - softplus(l)}. An infinite logit takes the formula's limit: the outcome is certain
     * (sigmoid 1 at {@code +Inf}, 0 at {@code -Inf}), so the term is 0 where x is that outcome and {@code -Inf}
     * otherwise (where {@code x * l - softplus(l)} itself is {@code Inf - Inf} or {@code 0 * Inf}: NaN).
     */
    public static double logTerm(double x, double l) {
        if (Double.isInfinite(l)) {
            return x == (l > 0 ? 1.0 : 0.0) ? 0.0 : Double.NEGATIVE_INFINITY;
        }
        return x * l - softplus(l);
    }

    private static double rowLogProb(float[] logits, int row, int dims, float[] xRow) {
        double sum = 0;
        for (int d = 0; d < dims; d++) {
            sum += logTerm(xRow[d], logits[row * dims + d]);
        }
        return sum;
    }

    private static void check(LikelihoodShape shape, float[] logits, Targets x, float[] logp) {
        Objects.requireNonNull(shape, "shape");
        Check.shape(logits, "logits", "K x B x D", shape.samples(), shape.batch(), shape.dims());
        Objects.requireNonNull(x, "x");
        x.validate(shape);
        Check.shape(logp, "logp", "K x B", shape.samples(), shape.batch());
    }
}
