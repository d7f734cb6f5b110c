package dev.elbo4j.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.elbo4j.shape.LikelihoodShape;

@ExtendWith(TestRandom.Extension.class)
class BernoulliTest {

    /** Shapes {K, B, D}: a single element, a single row, D = 783 (odd), K > 1 (rows share their x). */
    private static final int[][] SHAPES = {{1, 1, 1}, {1, 1, 783}, {1, 4, 783}, {1, 3, 10}, {3, 2, 7}, {2, 5, 1}};

    @Test
    void logProbMatchesTheNaiveFormulaWhereItIsAccurate(TestRandom random) {
        for (int[] shape : SHAPES) {
            int samples = shape[0], rows = shape[1], dims = shape[2];
            // |l| <= 15 keeps the naive log(1 - sigmoid(l)) finite and accurate to ~eps * e^|l| per element.
            float[] logits = random.uniforms(samples * rows * dims, -15, 15);
            float[] x = random.unitValues(rows * dims);
            float[] logp = new float[samples * rows];
            Bernoulli.logProb(new LikelihoodShape(samples, rows, dims), logits, Targets.values(x), logp);
            for (int r = 0; r < samples * rows; r++) {
                double naive = 0;
                double tolerance = Math.ulp(logp[r]);
                for (int d = 0; d < dims; d++) {
                    double l = logits[r * dims + d];
                    double xd = x[(r % rows) * dims + d];
                    double sigmoid = 1 / (1 + Math.exp(-l));
                    naive += xd * Math.log(sigmoid) + (1 - xd) * Math.log(1 - sigmoid);
                    tolerance += 4 * Math.ulp(1.0) * (1 + Math.exp(Math.abs(l)));
                }
                assertTrue(Double.isFinite(naive));
                assertEquals(naive, logp[r], tolerance, "row " + r + " of K x B x D = " + shapeOf(shape));
            }
        }
    }

    @Test
    void logProbIsFiniteAndExactAtLogitsOfPlusMinus100(TestRandom random) {
        int rows = 3;
        int dims = 784;
        float[] logits = new float[rows * dims];
        float[] x = random.unitValues(rows * dims);
        for (int i = 0; i < logits.length; i++) {
            logits[i] = random.nextInt(2) == 0 ? 100f : -100f;
        }
        float[] logp = new float[rows];
        float[] grad = new float[rows * dims];
        Bernoulli.logProbAndGrad(LikelihoodShape.of(rows, dims), logits, Targets.values(x), 1f / rows, logp, grad);
        for (int b = 0; b < rows; b++) {
            // softplus(l) = max(l, 0) + log1p(exp(-100)), and log1p(exp(-100)) ~ 4e-44 vanishes next to 100.
            double expected = 0;
            for (int d = 0; d < dims; d++) {
                double l = logits[b * dims + d];
                expected += x[b * dims + d] * l - Math.max(l, 0);
            }
            assertTrue(Float.isFinite(logp[b]), "logp[" + b + "] = " + logp[b]);
            assertEquals(expected, logp[b], Math.ulp((float) expected), "row " + b);
        }
        for (int i = 0; i < grad.length; i++) {
            double expected = (logits[i] > 0 ? 1.0 : 0.0) - x[i];
            assertEquals(expected / rows, grad[i], 1e-7, "grad " + i);
        }
    }

    @Test
    void gradientMatchesCentralDifferencesOfTheLossInDouble(TestRandom random) {
        for (int[] shape : SHAPES) {
            int samples = shape[0], rows = shape[1], dims = shape[2];
            float[] logits = random.logits(samples * rows * dims);
            float[] x = random.unitValues(rows * dims);
            float gradScale = 1f / (samples * rows);
            float[] logp = new float[samples * rows];
            float[] grad = ReparameterizationTest.nanArray(samples * rows * dims);
            Bernoulli.logProbAndGrad(new LikelihoodShape(samples, rows, dims), logits, Targets.values(x), gradScale,
                    logp, grad);
            for (int r = 0; r < samples * rows; r++) {
                double[] rowLogits = new double[dims];
                double[] xRow = new double[dims];
                double magnitude = 0;
                for (int d = 0; d < dims; d++) {
                    rowLogits[d] = logits[r * dims + d];
                    xRow[d] = x[(r % rows) * dims + d];
                    magnitude += Math.abs(xRow[d] * rowLogits[d]) + softplus(rowLogits[d]);
                }
                assertEquals(rowLogProb(rowLogits, xRow), logp[r], Math.ulp(logp[r]) + 1e-13 * magnitude,
                        "logp of row " + r + " of " + shapeOf(shape));
                for (int d = 0; d < dims; d++) {
                    double xd = xRow[d];
                    double logit = rowLogits[d];
                    // The loss's terms that depend on this logit: -gradScale * (x l - softplus(l)).
                    FiniteDifference.assertGradient("dLoss/dlogit[" + r + "][" + d + "] of " + shapeOf(shape),
                            grad[r * dims + d],
                            value -> -gradScale * term(value, xd),
                            logit, 1e-4, gradScale * (Math.abs(xd * logit) + softplus(logit)), 1e-9 * gradScale);
                }
            }
        }
    }

    @Test
    void pixelsMeanValueOver255(TestRandom random) {
        int rows = 3;
        int dims = 783;
        byte[] pixels = random.pixels(rows * dims);
        float[] x = new float[rows * dims];
        for (int i = 0; i < x.length; i++) {
            x[i] = (pixels[i] & 0xFF) / 255f;
        }
        float[] logits = random.logits(2 * rows * dims);
        float[] fromPixels = new float[2 * rows];
        float[] fromValues = new float[2 * rows];
        float[] gradPixels = new float[2 * rows * dims];
        float[] gradValues = new float[2 * rows * dims];
        LikelihoodShape twoSamples = new LikelihoodShape(2, rows, dims);
        Bernoulli.logProbAndGrad(twoSamples, logits, Targets.pixels(pixels), 0.5f, fromPixels, gradPixels);
        Bernoulli.logProbAndGrad(twoSamples, logits, Targets.values(x), 0.5f, fromValues, gradValues);
        assertArrayEquals(fromValues, fromPixels, 0f);
        assertArrayEquals(gradValues, gradPixels, 0f);
    }

    @Test
    void binarizationComparesEachValueWithItsStreamOneUniform(TestRandom random) {
        int rows = 5;
        int dims = 783;
        long seed = random.nextLong();
        int offset = random.nextInt(1000);
        float[] x = random.unitValues(rows * dims);
        Targets binarized = Targets.values(x).binarized(seed, offset);
        float[] row = new float[dims];
        for (int b = 0; b < rows; b++) {
            binarized.row(b, dims, row);
            for (int d = 0; d < dims; d++) {
                float u = Philox.uniformAt(seed, offset, Philox.STREAM_BINARIZATION, (long) b * dims + d);
                float xd = x[b * dims + d];
                assertEquals(u <= xd ? 1f : 0f, row[d], "x[" + b + "][" + d + "] = " + xd + ", u = " + u);
                if (xd == 0f) {
                    assertEquals(0f, row[d], "u > 0, so x = 0 stays 0");
                }
            }
        }
        // The same binarization inside the likelihood as on an explicitly binarized copy.
        float[] explicit = new float[rows * dims];
        for (int b = 0; b < rows; b++) {
            binarized.row(b, dims, row);
            System.arraycopy(row, 0, explicit, b * dims, dims);
        }
        float[] logits = random.logits(rows * dims);
        float[] fused = new float[rows];
        float[] copied = new float[rows];
        Bernoulli.logProb(LikelihoodShape.of(rows, dims), logits, binarized, fused);
        Bernoulli.logProb(LikelihoodShape.of(rows, dims), logits, Targets.values(explicit), copied);
        assertArrayEquals(copied, fused, 0f);
    }

    /**
     * Seed 0, offset 4847881, stream 1: element 1's word is 0xffffff9d, so u = 1 exactly (found by search). With the
     * spec's {@code 1 if u <= x} (since 2026-12-01; it was {@code u < x}) a pixel of exactly 1 stays 1 even there,
     * and only a value below 1 becomes 0.
     */
    @Test
    void aPixelOfExactlyOneStaysOneWhereTheUniformIsExactlyOne() {
        assertEquals(1f, Philox.uniformAt(BinarizationCorner.SEED, BinarizationCorner.OFFSET,
                Philox.STREAM_BINARIZATION, BinarizationCorner.ELEMENT));
        long seed = BinarizationCorner.SEED;
        int offset = BinarizationCorner.OFFSET;
        float[] row = new float[4];
        Targets.values(new float[] {1f, 1f, 1f, 1f}).binarized(seed, offset).row(0, 4, row);
        assertArrayEquals(new float[] {1f, 1f, 1f, 1f}, row, "u = 1 <= x = 1");
        Targets.pixels(new byte[] {(byte) 255, (byte) 255, 0, 0}).binarized(seed, offset).row(0, 4, row);
        assertArrayEquals(new float[] {1f, 1f, 0f, 0f}, row, "pixel 255 is x = 1; pixel 0 is always 0");
        float belowOne = Math.nextDown(1f);
        Targets.values(new float[] {belowOne, belowOne, belowOne, belowOne}).binarized(seed, offset).row(0, 4, row);
        assertEquals(0f, row[BinarizationCorner.ELEMENT], "u = 1 > x = 1 - 2^-24");
    }

    /** Infinite logits are certain outcomes: the limit of the formula, never NaN (see Bernoulli.logTerm). */
    @Test
    void infiniteLogitsTakeTheFormulasLimits() {
        float inf = Float.POSITIVE_INFINITY;
        float[] logits = {inf, inf, inf, -inf, -inf, -inf};
        float[] x = {1f, 0f, 0.5f, 0f, 1f, 0.5f};
        float[] logp = new float[6];
        float[] grad = new float[6];
        Bernoulli.logProbAndGrad(LikelihoodShape.of(6, 1), logits, Targets.values(x), 1f, logp, grad);
        assertArrayEquals(new float[] {0f, -inf, -inf, 0f, -inf, -inf}, logp);
        assertArrayEquals(new float[] {0f, 1f, 0.5f, 0f, -1f, -0.5f}, grad, "sigmoid(+-Inf) - x");
        assertEquals(0.0, Bernoulli.logTerm(1, Double.POSITIVE_INFINITY));
        assertEquals(Double.NEGATIVE_INFINITY, Bernoulli.logTerm(0.25, Double.NEGATIVE_INFINITY));
    }

    @Test
    void binarizedPixelsAreOneWithProbabilityTheirValue(TestRandom random) {
        byte[] pixels = {0, (byte) 51, (byte) 128, (byte) 204, (byte) 255};
        int dims = pixels.length;
        int draws = 40_000;
        long seed = random.nextLong();
        double[] ones = new double[dims];
        float[] row = new float[dims];
        for (int offset = 0; offset < draws; offset++) {
            Targets.pixels(pixels).binarized(seed, offset).row(0, dims, row);
            for (int d = 0; d < dims; d++) {
                ones[d] += row[d];
            }
        }
        for (int d = 0; d < dims; d++) {
            double p = (pixels[d] & 0xFF) / 255.0;
            double standardError = Math.sqrt(p * (1 - p) / draws);
            assertEquals(p, ones[d] / draws, 5 * standardError + 1e-4, "pixel " + (pixels[d] & 0xFF));
        }
    }

    @Test
    void valuesOutsideTheUnitIntervalAreRejected() {
        float[] x = {0f, 0.5f, 1.25f};
        var error = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Bernoulli.logProb(LikelihoodShape.of(1, 3), new float[3], Targets.values(x), new float[1]));
        assertTrue(error.getMessage().contains("x[0][2] = 1.25"), error.getMessage());
        x[2] = Float.NaN;
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> Bernoulli.logProb(LikelihoodShape.of(1, 3), new float[3], Targets.values(x), new float[1]));
    }

    /** log p of one row in double: sum_d [x l - softplus(l)], softplus written independently of the reference. */
    private static double rowLogProb(double[] logits, double[] x) {
        double sum = 0;
        for (int d = 0; d < logits.length; d++) {
            sum += term(logits[d], x[d]);
        }
        return sum;
    }

    /** One element's share of log p: {@code x l - softplus(l)}. */
    private static double term(double logit, double x) {
        return x * logit - softplus(logit);
    }

    /** log(1 + e^l): for l > 0 as l + log(1 + e^-l), else log(1 + e^l). */
    private static double softplus(double l) {
        return l > 0 ? l + Math.log1p(Math.exp(-l)) : Math.log1p(Math.exp(l));
    }

    private static String shapeOf(int[] shape) {
        return shape[0] + " x " + shape[1] + " x " + shape[2];
    }
}
