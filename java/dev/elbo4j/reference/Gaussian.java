package dev.elbo4j.reference;

import java.util.Objects;

import dev.elbo4j.shape.LikelihoodShape;

/**
 * The Gaussian reconstruction log-likelihood with mean {@code m} and log-variance {@code s} (contract,
 * "Reconstruction log-likelihoods"): {@code log p(x_b | m, s) = -0.5 sum_d [log(2 pi) + s_d + (x_d - m_d)^2 exp(-s_d)]}
 * in nats.
 *
 * <p>Shapes, from one {@link LikelihoodShape} (K, B, D): {@code mean} K x B x D (the decoder's output for K latent
 * samples of B rows), {@code x} B x D; mean row {@code k*B + b} is scored against x row {@code b}. {@code logp} is K
 * x B. The log-variance is one of the three {@link LogVariance} modes. Arithmetic is double from the float32 inputs;
 * each output is rounded once to float32. Every finite input gives a finite result wherever the formula's value is
 * finite: {@code x = m} contributes a weighted square of 0 even where {@code exp(-s)} overflows (the numerical
 * contract, {@code docs/numerical-contract.md}, "Gaussian").
 */
public final class Gaussian {

    private static final double LOG_TWO_PI = Math.log(2.0 * Math.PI);

    private Gaussian() {
    }

    /** The log-variance {@code s} of the likelihood: where it lives and so what shape its gradient has. */
    public sealed interface LogVariance {

        /** One fixed scalar for every element; it is not learned, so it has no gradient. */
        record Fixed(float value) implements LogVariance {
        }

        /** A learned vector of D values shared by all rows; its gradient (D) sums over the rows. */
        record PerDimension(float[] values) implements LogVariance {
            /** Keeps {@code values} (D), not a copy. */
            public PerDimension {
                Objects.requireNonNull(values, "values");
            }
        }

        /** A decoder output of K x B x D values, like the mean; its gradient is K x B x D too. */
        record PerRow(float[] values) implements LogVariance {
            /** Keeps {@code values} (K x B x D), not a copy. */
            public PerRow {
                Objects.requireNonNull(values, "values");
            }
        }
    }

    /**
     * Per-row log-likelihoods.
     *
     * @param shape  K, B, D
     * @param mean   K x B x D
     * @param x      B x D
     * @param logVar s, in one of the three modes
     * @param logp   output, K x B
     */
    public static void logProb(LikelihoodShape shape, float[] mean, float[] x, LogVariance logVar, float[] logp) {
        check(shape, mean, x, logVar, logp);
        int samples = shape.samples();
        int rows = shape.batch();
        int dims = shape.dims();
        Rows.forEach(samples * rows, dims, r -> logp[r] = (float) rowLogProb(mean, x, logVar, r, rows, dims));
    }

    /**
     * Per-row log-likelihoods and the gradients of the loss {@code -sum_r w_r log p_r}, scaled by the row weight
     * {@code gradScale = w} (1/B for a batch mean) with the sign of the loss, like {@link Bernoulli}'s:
     * <pre>
     *   gradMean[k][b][d]   = gradScale * (m - x) * exp(-s)
     *   gradLogVar[k][b][d] = gradScale * 0.5 * (1 - (x - m)^2 * exp(-s))
     * </pre>
     * {@code gradLogVar} is null for {@link LogVariance.Fixed} (it has no gradient) and may be null for the other
     * modes when the variance is not trained; else it is D for {@link LogVariance.PerDimension} (the sum over all
     * K x B rows) and K x B x D for {@link LogVariance.PerRow}.
     *
     * @param gradMean output, K x B x D
     */
    public static void logProbAndGrad(LikelihoodShape shape, float[] mean, float[] x, LogVariance logVar,
                                      float gradScale, float[] logp, float[] gradMean, float[] gradLogVar) {
        check(shape, mean, x, logVar, logp);
        int samples = shape.samples();
        int rows = shape.batch();
        int dims = shape.dims();
        Check.shape(gradMean, "gradMean", "K x B x D", samples, rows, dims);
        switch (logVar) {
            case LogVariance.Fixed _ -> {
                if (gradLogVar != null) {
                    throw new IllegalArgumentException(
                            "gradLogVar must be null for a fixed log-variance: a constant has no gradient");
                }
            }
            case LogVariance.PerDimension _ -> {
                if (gradLogVar != null) {
                    Check.shape(gradLogVar, "gradLogVar", "D", dims);
                }
            }
            case LogVariance.PerRow _ -> {
                if (gradLogVar != null) {
                    Check.shape(gradLogVar, "gradLogVar", "K x B x D", samples, rows, dims);
                }
            }
        }
        Rows.forEach(samples * rows, dims, r -> {
            logp[r] = (float) rowLogProb(mean, x, logVar, r, rows, dims);
            for (int d = 0; d < dims; d++) {
                double diff = (double) x[(r % rows) * dims + d] - mean[r * dims + d];
                double s = logVarAt(logVar, r, d, dims);
                gradMean[r * dims + d] = (float) product(gradScale, product(-diff, Math.exp(-s)));
                if (gradLogVar != null && logVar instanceof LogVariance.PerRow) {
                    gradLogVar[r * dims + d] = (float) product(gradScale, 0.5 * (1.0 - weightedSquare(diff, s)));
                }
            }
        });
        if (gradLogVar != null && logVar instanceof LogVariance.PerDimension) {
            int allRows = samples * rows;
            // Each column sums its own K*B terms in row order: independent columns, a fixed order within one.
            Rows.forEach(dims, allRows, d -> {
                double sum = 0;
                for (int r = 0; r < allRows; r++) {
                    double diff = (double) x[(r % rows) * dims + d] - mean[r * dims + d];
                    sum += 0.5 * (1.0 - weightedSquare(diff, logVarAt(logVar, r, d, dims)));
                }
                gradLogVar[d] = (float) product(gradScale, sum);
            });
        }
    }

    /**
     * {@code (x - m)^2 exp(-s)}, 0 when {@code x = m}: for s below about -709.8 exp(-s) overflows a double, but the
     * formula's factor is finite and the product with 0 is 0, not NaN (contract, "Gaussian").
     */
    public static double weightedSquare(double diff, double s) {
        return product(diff * diff, Math.exp(-s));
    }

    /** {@code a * b}, and 0 when either is 0 even if the other is infinite (an overflowed factor, not a real one). */
    public static double product(double a, double b) {
        return a == 0 || b == 0 ? 0 : a * b;
    }

    private static double rowLogProb(float[] mean, float[] x, LogVariance logVar, int r, int rows, int dims) {
        double sum = 0;
        for (int d = 0; d < dims; d++) {
            double s = logVarAt(logVar, r, d, dims);
            double diff = (double) x[(r % rows) * dims + d] - mean[r * dims + d];
            sum += LOG_TWO_PI + s + weightedSquare(diff, s);
        }
        return -0.5 * sum;
    }

    /** s for element d of mean row r (r in [0, K*B)). */
    private static double logVarAt(LogVariance logVar, int r, int d, int dims) {
        return switch (logVar) {
            case LogVariance.Fixed fixed -> fixed.value();
            case LogVariance.PerDimension perDimension -> perDimension.values()[d];
            case LogVariance.PerRow perRow -> perRow.values()[r * dims + d];
        };
    }

    private static void check(LikelihoodShape shape, float[] mean, float[] x, LogVariance logVar, float[] logp) {
        Objects.requireNonNull(shape, "shape");
        int samples = shape.samples();
        int rows = shape.batch();
        int dims = shape.dims();
        Check.shape(mean, "mean", "K x B x D", samples, rows, dims);
        Check.shape(x, "x", "B x D", rows, dims);
        Objects.requireNonNull(logVar, "logVar");
        switch (logVar) {
            case LogVariance.Fixed _ -> {
            }
            case LogVariance.PerDimension perDimension ->
                    Check.shape(perDimension.values(), "logVar (per dimension)", "D", dims);
            case LogVariance.PerRow perRow ->
                    Check.shape(perRow.values(), "logVar (per row)", "K x B x D", samples, rows, dims);
        }
        Check.shape(logp, "logp", "K x B", samples, rows);
    }
}
