package dev.elbo4j.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.elbo4j.reference.Gaussian.LogVariance;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.elbo4j.shape.LikelihoodShape;

@ExtendWith(TestRandom.Extension.class)
class GaussianTest {

    private static final double LOG_TWO_PI = Math.log(2 * Math.PI);

    /** Shapes {K, B, D}. */
    private static final int[][] SHAPES = {{1, 1, 1}, {1, 1, 783}, {1, 4, 783}, {3, 2, 7}, {2, 5, 1}};

    @Test
    void logProbIsTheSumOfTheSpecsTermsInEveryVarianceMode(TestRandom random) {
        for (int[] shape : SHAPES) {
            int samples = shape[0], rows = shape[1], dims = shape[2];
            Inputs in = Inputs.draw(random, samples, rows, dims);
            for (LogVariance logVar : in.modes(random)) {
                float[] logp = new float[samples * rows];
                Gaussian.logProb(new LikelihoodShape(samples, rows, dims), in.mean, in.x, logVar, logp);
                for (int r = 0; r < samples * rows; r++) {
                    double sum = 0;
                    double magnitude = 0;
                    for (int d = 0; d < dims; d++) {
                        double s = logVarAt(logVar, r, d, dims);
                        double diff = (double) in.x[(r % rows) * dims + d] - in.mean[r * dims + d];
                        sum += LOG_TWO_PI + s + diff * diff * Math.exp(-s);
                        magnitude += LOG_TWO_PI + Math.abs(s) + diff * diff * Math.exp(-s);
                    }
                    assertEquals(-0.5 * sum, logp[r], Math.ulp(logp[r]) + 1e-13 * magnitude,
                            "row " + r + ", " + mode(logVar) + ", " + shapeOf(shape));
                }
            }
        }
    }

    @Test
    void gradientsMatchCentralDifferencesOfTheLossInDouble(TestRandom random) {
        for (int[] shape : SHAPES) {
            int samples = shape[0], rows = shape[1], dims = shape[2];
            int allRows = samples * rows;
            Inputs in = Inputs.draw(random, samples, rows, dims);
            float gradScale = 1f / allRows;
            for (LogVariance logVar : in.modes(random)) {
                String where = mode(logVar) + ", " + shapeOf(shape);
                float[] logp = new float[allRows];
                float[] gradMean = ReparameterizationTest.nanArray(allRows * dims);
                float[] gradLogVar = switch (logVar) {
                    case LogVariance.Fixed _ -> null;
                    case LogVariance.PerDimension _ -> ReparameterizationTest.nanArray(dims);
                    case LogVariance.PerRow _ -> ReparameterizationTest.nanArray(allRows * dims);
                };
                Gaussian.logProbAndGrad(new LikelihoodShape(samples, rows, dims), in.mean, in.x, logVar, gradScale,
                        logp, gradMean, gradLogVar);
                for (int r = 0; r < allRows; r++) {
                    for (int d = 0; d < dims; d++) {
                        double x = in.x[(r % rows) * dims + d];
                        double s = logVarAt(logVar, r, d, dims);
                        double mean = in.mean[r * dims + d];
                        // The loss's terms that depend on this element: gradScale * 0.5 (log 2pi + s + (x-m)^2 e^-s).
                        FiniteDifference.assertGradient("dLoss/dmean[" + r + "][" + d + "], " + where,
                                gradMean[r * dims + d],
                                value -> gradScale * 0.5 * (LOG_TWO_PI + s + (x - value) * (x - value) * Math.exp(-s)),
                                mean, 1e-4, gradScale * term(x, mean, s), 1e-9 * gradScale);
                        if (logVar instanceof LogVariance.PerRow) {
                            FiniteDifference.assertGradient("dLoss/dlogvar[" + r + "][" + d + "], " + where,
                                    gradLogVar[r * dims + d],
                                    value -> gradScale * 0.5 * (LOG_TWO_PI + value
                                            + (x - mean) * (x - mean) * Math.exp(-value)),
                                    s, 1e-4, gradScale * term(x, mean, s), 1e-9 * gradScale);
                        }
                    }
                }
                if (logVar instanceof LogVariance.PerDimension perDimension) {
                    for (int d = 0; d < dims; d++) {
                        int column = d;
                        double magnitude = 0;
                        for (int r = 0; r < allRows; r++) {
                            magnitude += gradScale * term(in.x[(r % rows) * dims + d], in.mean[r * dims + d],
                                    perDimension.values()[d]);
                        }
                        // A shared s_d appears in every row's term: the loss's dependence on it is the column sum.
                        FiniteDifference.assertGradient("dLoss/dlogvar[" + d + "] (summed over rows), " + where,
                                gradLogVar[d],
                                value -> {
                                    double sum = 0;
                                    for (int r = 0; r < allRows; r++) {
                                        double diff = (double) in.x[(r % rows) * dims + column]
                                                - in.mean[r * dims + column];
                                        sum += gradScale * 0.5 * (LOG_TWO_PI + value + diff * diff * Math.exp(-value));
                                    }
                                    return sum;
                                },
                                perDimension.values()[d], 1e-4, magnitude, 1e-9 * gradScale * allRows);
                    }
                }
            }
        }
    }

    /**
     * A collapsed dimension: s far below -88.7 (where exp(-s) overflows a float) and beyond -709.8 (a double). With
     * x = m the formula's weighted square is 0, so log p is finite: 49.08 nats at s = -100 (the issue's example),
     * and every output is finite where the formula's value is.
     */
    @Test
    void extremeLogVariancesGiveTheFormulasFiniteValues() {
        float[] logVars = {-1e4f, -1000f, -710f, -100f, 87.4f, 750f, 1e4f};
        for (float s : logVars) {
            float[] logp = new float[1];
            float[] gradMean = new float[1];
            float[] gradLogVar = new float[1];
            Gaussian.logProbAndGrad(LikelihoodShape.of(1, 1), new float[] {0.25f}, new float[] {0.25f},
                    new LogVariance.PerRow(new float[] {s}), 0.5f, logp, gradMean, gradLogVar);
            assertEquals(-0.5 * (LOG_TWO_PI + s), logp[0], Math.ulp(logp[0]), "log p at x = m, s = " + s);
            assertEquals(0f, gradMean[0], "d/dm at x = m, s = " + s);
            assertEquals(0.25f, gradLogVar[0], "d/ds at x = m, s = " + s);
        }
        float[] issue = new float[1];
        Gaussian.logProb(LikelihoodShape.of(1, 1), new float[] {1.5f}, new float[] {1.5f},
                new LogVariance.Fixed(-100f), issue);
        assertEquals(49.08, issue[0], 0.005);
        // x != m: the weighted square is finite in double down to s = -709.8 and beyond it as large as the formula.
        float[] tiny = new float[1];
        Gaussian.logProb(LikelihoodShape.of(1, 1), new float[] {1e-20f}, new float[] {0f},
                new LogVariance.Fixed(-100f), tiny);
        assertEquals(-0.5 * (LOG_TWO_PI - 100 + 1e-40 * Math.exp(100)), tiny[0], 1e-3);
        float[] huge = new float[1];
        Gaussian.logProb(LikelihoodShape.of(1, 1), new float[] {1f}, new float[] {0f}, new LogVariance.Fixed(-1000f),
                huge);
        assertEquals(Float.NEGATIVE_INFINITY, huge[0], "a weighted square past every float is -inf, not NaN");
        // A zero row weight gives a zero gradient even where exp(-s) overflows.
        float[] zeroWeighted = new float[1];
        Gaussian.logProbAndGrad(LikelihoodShape.of(1, 1), new float[] {1f}, new float[] {0f},
                new LogVariance.Fixed(-1000f), 0f, new float[1], zeroWeighted, null);
        assertEquals(0f, zeroWeighted[0]);
    }

    @Test
    void aFixedLogVarianceHasNoGradientToWrite(TestRandom random) {
        Inputs in = Inputs.draw(random, 1, 2, 3);
        var error = assertThrows(IllegalArgumentException.class, () -> Gaussian.logProbAndGrad(
                LikelihoodShape.of(2, 3), in.mean, in.x, new LogVariance.Fixed(0f), 0.5f, new float[2], new float[6],
                new float[6]));
        assertTrue(error.getMessage().contains("gradLogVar must be null"), error.getMessage());
    }

    @Test
    void gradLogVarMayBeOmittedForALearnedVariance(TestRandom random) {
        Inputs in = Inputs.draw(random, 2, 3, 5);
        LogVariance[] learned = {new LogVariance.PerDimension(random.logvars(5)),
            new LogVariance.PerRow(random.logvars(2 * 3 * 5))};
        for (LogVariance logVar : learned) {
            float[] logp = new float[6];
            float[] gradMean = ReparameterizationTest.nanArray(30);
            Gaussian.logProbAndGrad(new LikelihoodShape(2, 3, 5), in.mean, in.x, logVar, 0.5f, logp, gradMean, null);
            float[] fullLogp = new float[6];
            float[] fullGradMean = new float[30];
            float[] gradLogVar = new float[logVar instanceof LogVariance.PerRow ? 30 : 5];
            Gaussian.logProbAndGrad(new LikelihoodShape(2, 3, 5), in.mean, in.x, logVar, 0.5f, fullLogp, fullGradMean,
                    gradLogVar);
            // Omitting the variance's gradient changes nothing else.
            assertArrayEquals(fullLogp, logp, 0f, mode(logVar));
            assertArrayEquals(fullGradMean, gradMean, 0f, mode(logVar));
        }
    }

    /** |log 2pi| + |s| + (x - m)^2 e^-s, halved: the size of one element's term. */
    private static double term(double x, double mean, double s) {
        return 0.5 * (LOG_TWO_PI + Math.abs(s) + (x - mean) * (x - mean) * Math.exp(-s));
    }

    private static double logVarAt(LogVariance logVar, int r, int d, int dims) {
        return switch (logVar) {
            case LogVariance.Fixed fixed -> fixed.value();
            case LogVariance.PerDimension perDimension -> perDimension.values()[d];
            case LogVariance.PerRow perRow -> perRow.values()[r * dims + d];
        };
    }

    private static String mode(LogVariance logVar) {
        return logVar.getClass().getSimpleName();
    }

    private static String shapeOf(int[] shape) {
        return "K x B x D = " + shape[0] + " x " + shape[1] + " x " + shape[2];
    }

    /** Means N(0, 1), data in [0, 1] with exact 0s and 1s. */
    private record Inputs(float[] mean, float[] x, int samples, int rows, int dims) {
        static Inputs draw(TestRandom random, int samples, int rows, int dims) {
            return new Inputs(random.normals(samples * rows * dims, 1.0), random.unitValues(rows * dims),
                    samples, rows, dims);
        }

        /** One variance of each mode, log-variances in [-20, 10]. */
        LogVariance[] modes(TestRandom random) {
            return new LogVariance[] {
                new LogVariance.Fixed((float) random.uniform(-20, 10)),
                new LogVariance.PerDimension(random.logvars(dims)),
                new LogVariance.PerRow(random.logvars(samples * rows * dims)),
            };
        }
    }
}
