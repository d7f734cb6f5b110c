package dev.elbo4j.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;
import dev.elbo4j.shape.SampleShape;

/**
 * The ELBO, the loss and the importance-weighted bound on a toy model small enough to integrate exactly: a
 * one-dimensional latent z ~ N(0, 1), a Bernoulli decoder with logits {@code W z + c} over D = 8 binary pixels,
 * and a Gaussian q(z|x) that is deliberately not the true posterior, so the bound has a gap to close.
 */
@ExtendWith(TestRandom.Extension.class)
class IwaeElboTest {

    private static final double LOG_TWO_PI = Math.log(2 * Math.PI);
    private static final int DIMS = 8;
    private static final int ROWS = 12;

    @Test
    void lossAndElboAreTheBatchMeansOfTheSpec(TestRandom random) {
        int rows = 7;
        float[] logp = random.uniforms(rows, -600, -50);
        float[] kl = random.uniforms(rows, 0, 40);
        float beta = (float) random.uniform(0.1, 3);
        double expectedLoss = 0;
        double expectedElbo = 0;
        for (int b = 0; b < rows; b++) {
            expectedLoss -= ((double) logp[b] - (double) beta * kl[b]) / rows;
            expectedElbo += ((double) logp[b] - kl[b]) / rows;
        }
        assertEquals(expectedLoss, Elbo.loss(SampleShape.of(rows), logp, kl, beta), 1e-12 * Math.abs(expectedLoss));
        assertEquals(expectedElbo, Elbo.mean(SampleShape.of(rows), logp, kl), 1e-12 * Math.abs(expectedElbo));
        float[] perRow = new float[rows];
        Elbo.perRow(SampleShape.of(rows), logp, kl, perRow);
        for (int b = 0; b < rows; b++) {
            assertEquals((float) ((double) logp[b] - kl[b]), perRow[b], 0f);
        }
        assertEquals(1.0, Elbo.bitsPerDimension(-784 * Math.log(2), 784), 1e-15, "nats to bits per dimension");
    }

    @Test
    void iwaeWithOneSampleIsTheOneSampleElboEstimateWithTheSameNoise(TestRandom random) {
        Model model = Model.draw(random);
        long seed = random.nextLong();
        int offset = random.nextInt(1 << 20);
        float[] iwae = model.iwae(1, seed, offset);
        float[] z = new float[ROWS];
        Reparameterization.forward(new LatentShape(1, ROWS, 1, 2), model.muLogvar, seed, offset, z, new float[ROWS]);
        for (int b = 0; b < ROWS; b++) {
            double eps = Philox.normalAt(seed, offset, 0, b);
            double logvar = model.muLogvar[2 * b + 1];
            double logPrior = -0.5 * ((double) z[b] * z[b] + LOG_TWO_PI);
            double logPosterior = -0.5 * (eps * eps + LOG_TWO_PI + logvar);
            double estimate = model.logLikelihood(b, z[b]) + logPrior - logPosterior;
            assertEquals(estimate, iwae[b], 4 * Math.ulp((float) estimate) + 1e-5, "row " + b);
        }
    }

    @Test
    void iwaeWithOneSampleAveragesToTheExactElbo(TestRandom random) {
        Model model = Model.draw(random);
        long seed = random.nextLong();
        int draws = 4000;
        double exact = 0;
        for (int b = 0; b < ROWS; b++) {
            exact += model.exactElbo(b) / ROWS;
        }
        // Each draw's batch mean over the rows is one sample of an unbiased estimate of the mean ELBO.
        double sum = 0;
        double sumSquares = 0;
        for (int offset = 0; offset < draws; offset++) {
            double batchMean = mean(model.iwae(1, seed, offset));
            sum += batchMean;
            sumSquares += batchMean * batchMean;
        }
        double average = sum / draws;
        double standardError = Math.sqrt((sumSquares / draws - average * average) / draws);
        assertEquals(exact, average, 4 * standardError, "E[IWAE_1] is the ELBO");
    }

    @Test
    void iwaeRisesWithKTowardTheExactLogLikelihood(TestRandom random) {
        Model model = Model.draw(random);
        long seed = random.nextLong();
        double logLikelihood = 0;
        double elbo = 0;
        for (int b = 0; b < ROWS; b++) {
            logLikelihood += model.exactLogLikelihood(b) / ROWS;
            elbo += model.exactElbo(b) / ROWS;
        }
        assertTrue(logLikelihood - elbo > 0.05, "the toy posterior must leave a gap: " + (logLikelihood - elbo));
        int[] sampleCounts = {1, 4, 16, 64, 256};
        int draws = 200;
        double[] means = new double[sampleCounts.length];
        double[] errors = new double[sampleCounts.length];
        for (int i = 0; i < sampleCounts.length; i++) {
            double sum = 0;
            double sumSquares = 0;
            for (int draw = 0; draw < draws; draw++) {
                // A fresh offset per (K, draw): the estimates for different K are independent.
                double batchMean = mean(model.iwae(sampleCounts[i], seed, i * draws + draw));
                sum += batchMean;
                sumSquares += batchMean * batchMean;
            }
            means[i] = sum / draws;
            errors[i] = Math.sqrt(Math.max(0, sumSquares / draws - means[i] * means[i]) / draws);
            assertTrue(means[i] <= logLikelihood + 4 * errors[i], "IWAE_" + sampleCounts[i] + " = " + means[i]
                    + " exceeds log p(x) = " + logLikelihood);
        }
        String table = tableOf(sampleCounts, means, errors, logLikelihood, elbo);
        for (int i = 1; i < sampleCounts.length; i++) {
            double step = means[i] - means[i - 1];
            double stepError = Math.hypot(errors[i], errors[i - 1]);
            assertTrue(step >= -4 * stepError, "IWAE fell from K=" + sampleCounts[i - 1] + " to K=" + sampleCounts[i]
                    + table);
        }
        int last = sampleCounts.length - 1;
        assertTrue(means[last] - means[0] > 4 * Math.hypot(errors[last], errors[0]),
                "no significant rise from K=1 to K=" + sampleCounts[last] + table);
        assertTrue(logLikelihood - means[last] < 0.25 * (logLikelihood - elbo),
                "IWAE_" + sampleCounts[last] + " closes less than 3/4 of the gap" + table);
    }

    @Test
    void iwaeBoundIsStableAtLargeLogWeights() {
        // K = 3, B = 2, sample-major: row 0 has log weights near -1e4, row 1 near +1e4.
        float[] logWeights = {-10000f, 10000f, -10001f, 10002.5f, -10002.5f, 9999f};
        float[] bound = new float[2];
        Iwae.bound(new SampleShape(3, 2), logWeights, bound);
        double row0 = -10000 + Math.log(1 + Math.exp(-1) + Math.exp(-2.5)) - Math.log(3);
        double row1 = 10002.5 + Math.log(Math.exp(-2.5) + 1 + Math.exp(-3.5)) - Math.log(3);
        assertEquals(row0, bound[0], Math.ulp((float) row0));
        assertEquals(row1, bound[1], Math.ulp((float) row1));
    }

    @Test
    void iwaeBoundHandlesZeroWeights() {
        float inf = Float.POSITIVE_INFINITY;
        // Row 0: one weight is exactly zero (log -inf); row 1: all are.
        float[] logWeights = {-inf, -inf, -5f, -inf};
        float[] bound = new float[2];
        Iwae.bound(new SampleShape(2, 2), logWeights, bound);
        assertEquals(-5 - Math.log(2), bound[0], 1e-6);
        assertEquals(-inf, bound[1]);
    }

    @Test
    void gapIsTheMeanOfIwaeMinusElbo(TestRandom random) {
        float[] iwae = random.uniforms(5, -300, -100);
        float[] elbo = random.uniforms(5, -320, -300);
        double expected = 0;
        for (int b = 0; b < 5; b++) {
            expected += ((double) iwae[b] - elbo[b]) / 5;
        }
        assertEquals(expected, Iwae.gap(SampleShape.of(5), iwae, elbo), 1e-12);
    }

    private static double mean(float[] values) {
        double sum = 0;
        for (float v : values) {
            sum += v;
        }
        return sum / values.length;
    }

    private static String tableOf(int[] sampleCounts, double[] means, double[] errors, double logLikelihood,
                                  double elbo) {
        StringBuilder table = new StringBuilder("\n  exact ELBO " + elbo + ", exact log p(x) " + logLikelihood);
        for (int i = 0; i < sampleCounts.length; i++) {
            table.append("\n  IWAE_").append(sampleCounts[i]).append(" = ").append(means[i])
                    .append(" +- ").append(errors[i]);
        }
        return table.toString();
    }

    /** The toy model: z ~ N(0, 1), x_d ~ Bernoulli(sigmoid(w_d z + c_d)), q(z|x_b) = N(mu_b, exp(logvar_b)). */
    private record Model(double[] weights, double[] biases, float[] x, float[] muLogvar) {

        static Model draw(TestRandom random) {
            double[] weights = new double[DIMS];
            double[] biases = new double[DIMS];
            for (int d = 0; d < DIMS; d++) {
                weights[d] = random.uniform(-2.5, 2.5);
                biases[d] = random.uniform(-1, 1);
            }
            float[] x = new float[ROWS * DIMS];
            for (int i = 0; i < x.length; i++) {
                x[i] = random.nextInt(2);
            }
            // Encoder outputs that are plausible but not the posterior: L = 1, rowStride = 2.
            float[] muLogvar = new float[ROWS * 2];
            for (int b = 0; b < ROWS; b++) {
                muLogvar[2 * b] = (float) random.uniform(-1, 1);
                muLogvar[2 * b + 1] = (float) random.uniform(-2, 0);
            }
            return new Model(weights, biases, x, muLogvar);
        }

        /** IWAE_K per row from the reference: forward, decoder log-likelihoods, log weights, bound. */
        float[] iwae(int samples, long seed, int offset) {
            float[] z = new float[samples * ROWS];
            LatentShape shape = new LatentShape(samples, ROWS, 1, 2);
            Reparameterization.forward(shape, muLogvar, seed, offset, z, new float[ROWS]);
            float[] logits = new float[samples * ROWS * DIMS];
            for (int r = 0; r < samples * ROWS; r++) {
                for (int d = 0; d < DIMS; d++) {
                    logits[r * DIMS + d] = (float) (weights[d] * z[r] + biases[d]);
                }
            }
            float[] logpx = new float[samples * ROWS];
            Bernoulli.logProb(new LikelihoodShape(samples, ROWS, DIMS), logits, Targets.values(x), logpx);
            float[] logWeights = new float[samples * ROWS];
            Iwae.logWeights(shape, muLogvar, logpx, seed, offset, logWeights);
            float[] bound = new float[ROWS];
            Iwae.bound(shape.sampleShape(), logWeights, bound);
            return bound;
        }

        /** log p(x_b | z) in double, with the logits rounded to float as the reference's decoder sees them. */
        double logLikelihood(int b, double z) {
            double sum = 0;
            for (int d = 0; d < DIMS; d++) {
                double logit = (float) (weights[d] * z + biases[d]);
                // log sigmoid(l) = -log(1 + e^-l) and log(1 - sigmoid(l)) = -log(1 + e^l), both without overflow.
                double signed = x[b * DIMS + d] == 1f ? -logit : logit;
                sum -= Math.max(signed, 0) + Math.log1p(Math.exp(-Math.abs(signed)));
            }
            return sum;
        }

        /** log p(x_b) = log integral N(z; 0, 1) p(x_b | z) dz, by the trapezoid rule on [-12, 12] in log space. */
        double exactLogLikelihood(int b) {
            int points = 24001;
            double step = 24.0 / (points - 1);
            double[] logIntegrand = new double[points];
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < points; i++) {
                double z = -12 + i * step;
                logIntegrand[i] = -0.5 * (z * z + LOG_TWO_PI) + logLikelihood(b, z);
                max = Math.max(max, logIntegrand[i]);
            }
            double sum = 0;
            for (int i = 0; i < points; i++) {
                sum += (i == 0 || i == points - 1 ? 0.5 : 1.0) * Math.exp(logIntegrand[i] - max);
            }
            return max + Math.log(sum * step);
        }

        /** E_q[log p(x_b | z)] - KL_b, the expectation by the trapezoid rule over mu +- 12 sigma. */
        double exactElbo(int b) {
            double mu = muLogvar[2 * b];
            double logvar = muLogvar[2 * b + 1];
            double sigma = Math.exp(0.5 * logvar);
            int points = 24001;
            double step = 24.0 / (points - 1);
            double expectation = 0;
            for (int i = 0; i < points; i++) {
                double t = -12 + i * step;
                double weight = (i == 0 || i == points - 1 ? 0.5 : 1.0) * step
                        * Math.exp(-0.5 * (t * t + LOG_TWO_PI));
                expectation += weight * logLikelihood(b, mu + sigma * t);
            }
            double kl = 0.5 * (mu * mu + Math.exp(logvar) - 1 - logvar);
            return expectation - kl;
        }
    }
}
