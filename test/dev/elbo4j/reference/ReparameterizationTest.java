package dev.elbo4j.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.elbo4j.shape.LatentShape;

@ExtendWith(TestRandom.Extension.class)
class ReparameterizationTest {

    /** Shapes {B, L, K, rowStride}: single rows, L = 1 and 3, odd sizes, strides wider than 2L. */
    private static final int[][] SHAPES = {
        {1, 1, 1, 2}, {1, 3, 1, 6}, {4, 3, 2, 9}, {5, 7, 3, 14}, {3, 1, 5, 4}, {17, 5, 2, 13},
    };

    @Test
    void samplesUseTheNoiseOfElementKBPlusBTimesLPlusL(TestRandom random) {
        for (int[] shape : SHAPES) {
            int rows = shape[0], latent = shape[1], samples = shape[2], stride = shape[3];
            float[] muLogvar = encoderOutput(random, rows, latent, stride);
            long seed = random.nextLong();
            int offset = random.nextInt(1000);
            float[] z = new float[samples * rows * latent];
            float[] kl = new float[rows];
            Reparameterization.forward(new LatentShape(samples, rows, latent, stride), muLogvar, seed, offset, z, kl);
            for (int k = 0; k < samples; k++) {
                for (int b = 0; b < rows; b++) {
                    for (int l = 0; l < latent; l++) {
                        double mu = muLogvar[b * stride + l];
                        double logvar = muLogvar[b * stride + latent + l];
                        double eps = Philox.normalAt(seed, offset, 0, ((long) k * rows + b) * latent + l);
                        float expected = (float) (mu + Math.exp(0.5 * logvar) * eps);
                        assertEquals(expected, z[(k * rows + b) * latent + l], 0f,
                                "z[" + k + "][" + b + "][" + l + "] of shape " + describe(shape));
                    }
                }
            }
        }
    }

    @Test
    void klHasItsClosedForm(TestRandom random) {
        // mu = (1, 0, -2), logvar = (0, ln 2, -1): 0.5 * [(1 + 1 - 1 - 0) + (0 + 2 - 1 - ln 2) + (4 + 1/e - 1 + 1)].
        float[] muLogvar = {1f, 0f, -2f, 0f, (float) Math.log(2), -1f};
        float[] kl = new float[1];
        Reparameterization.kl(new LatentShape(1, 1, 3, 6), muLogvar, kl);
        double expected = 0.5 * (1 + (1 - Math.log(2)) + (4 + Math.exp(-1)));
        assertEquals(expected, kl[0], 1e-6);

        float[] prior = new float[2 * 5];
        Reparameterization.kl(new LatentShape(1, 1, 5, 10), prior, kl);
        assertEquals(0f, kl[0], 0f, "q = prior has KL 0");

        for (int[] shape : SHAPES) {
            int rows = shape[0], latent = shape[1], stride = shape[3];
            float[] encoded = encoderOutput(random, rows, latent, stride);
            float[] perRow = new float[rows];
            Reparameterization.kl(new LatentShape(1, rows, latent, stride), encoded, perRow);
            for (int b = 0; b < rows; b++) {
                assertTrue(perRow[b] >= 0f, "KL is never negative: " + perRow[b]);
            }
        }
    }

    @Test
    void klMatchesAMonteCarloAverageOfLogQMinusLogPriorOverAMillionDraws(TestRandom random) {
        int rows = 2;
        int latent = 3;
        int stride = 7;
        int samples = 1_000_000;
        float[] muLogvar = new float[rows * stride];
        // Row 0 spans the awkward log-variances; row 1 is a typical posterior.
        float[][] rowValues = {
            {(float) random.uniform(-2, 2), (float) random.uniform(-2, 2), (float) random.uniform(-2, 2),
                -20f, (float) random.uniform(-20, 10), 10f},
            {(float) random.uniform(-1, 1), (float) random.uniform(-1, 1), (float) random.uniform(-1, 1),
                (float) random.uniform(-3, 1), (float) random.uniform(-3, 1), (float) random.uniform(-3, 1)},
        };
        for (int b = 0; b < rows; b++) {
            System.arraycopy(rowValues[b], 0, muLogvar, b * stride, 2 * latent);
            muLogvar[b * stride + 2 * latent] = Float.NaN; // padding: never read
        }
        long seed = random.nextLong();
        int offset = random.nextInt(1000);
        float[] z = new float[samples * rows * latent];
        float[] kl = new float[rows];
        Reparameterization.forward(new LatentShape(samples, rows, latent, stride), muLogvar, seed, offset, z, kl);

        float[] eps = new float[samples * rows * latent];
        Philox.normals(seed, offset, 0, 0, eps);
        for (int b = 0; b < rows; b++) {
            double sum = 0;
            double sumSquares = 0;
            for (int k = 0; k < samples; k++) {
                double logQMinusLogPrior = 0;
                for (int l = 0; l < latent; l++) {
                    int i = (k * rows + b) * latent + l;
                    double logvar = muLogvar[b * stride + latent + l];
                    // log q - log p = -0.5 (eps^2 + log 2pi + logvar) + 0.5 (z^2 + log 2pi)
                    logQMinusLogPrior += -0.5 * ((double) eps[i] * eps[i] + logvar) + 0.5 * (double) z[i] * z[i];
                }
                sum += logQMinusLogPrior;
                sumSquares += logQMinusLogPrior * logQMinusLogPrior;
            }
            double mean = sum / samples;
            double standardError = Math.sqrt((sumSquares / samples - mean * mean) / samples);
            assertEquals(kl[b], mean, 4 * standardError, "row " + b + ": closed form vs Monte Carlo");
        }
    }

    @Test
    void backwardMatchesCentralDifferencesOfTheLinearizedLossInDouble(TestRandom random) {
        for (int[] shape : SHAPES) {
            int rows = shape[0], latent = shape[1], samples = shape[2], stride = shape[3];
            float[] muLogvar = encoderOutput(random, rows, latent, stride);
            long seed = random.nextLong();
            int offset = random.nextInt(1000);
            float[] dz = random.normals(samples * rows * latent, 1.0 / rows);
            float beta = (float) random.uniform(0.25, 2);
            float rowWeight = 1f / rows;
            float[] grad = nanArray(rows * stride);
            Reparameterization.backward(new LatentShape(samples, rows, latent, stride), muLogvar, dz, seed, offset, beta,
                    rowWeight, grad);
            float[] eps = new float[samples * rows * latent];
            Philox.normals(seed, offset, 0, 0, eps);
            for (int b = 0; b < rows; b++) {
                for (int column = 0; column < 2 * latent; column++) {
                    int row = b;
                    int col = column;
                    double[] parameters = new double[2 * latent];
                    for (int i = 0; i < 2 * latent; i++) {
                        parameters[i] = muLogvar[row * stride + i];
                    }
                    double magnitude = rowLossMagnitude(parameters, eps, dz, row, rows, latent, samples, beta,
                            rowWeight);
                    FiniteDifference.assertGradient(
                            "d/d" + (col < latent ? "mu" : "logvar") + "[" + row + "][" + (col % latent) + "] of "
                                    + describe(shape),
                            grad[row * stride + col],
                            value -> {
                                double[] moved = parameters.clone();
                                moved[col] = value;
                                return rowLoss(moved, eps, dz, row, rows, latent, samples, beta, rowWeight);
                            },
                            parameters[col], 1e-4, magnitude, 1e-9);
                }
                for (int column = 2 * latent; column < stride; column++) {
                    assertTrue(Float.isNaN(grad[b * stride + column]), "padding column " + column + " was written");
                }
            }
        }
    }

    @Test
    void backwardFromSavedSamplesAgreesWithRegeneratedNoise(TestRandom random) {
        for (int[] shape : SHAPES) {
            int rows = shape[0], latent = shape[1], samples = shape[2], stride = shape[3];
            float[] muLogvar = encoderOutput(random, rows, latent, stride);
            long seed = random.nextLong();
            int offset = random.nextInt(1000);
            float[] z = new float[samples * rows * latent];
            LatentShape latentShape = new LatentShape(samples, rows, latent, stride);
            Reparameterization.forward(latentShape, muLogvar, seed, offset, z, new float[rows]);
            float[] dz = random.normals(samples * rows * latent, 1.0 / rows);
            float beta = (float) random.uniform(0.25, 2);
            float[] regenerated = nanArray(rows * stride);
            float[] saved = nanArray(rows * stride);
            Reparameterization.backward(latentShape, muLogvar, dz, seed, offset, beta, 1f / rows, regenerated);
            Reparameterization.backwardFromSamples(latentShape, muLogvar, z, dz, beta, 1f / rows, saved);
            for (int b = 0; b < rows; b++) {
                for (int l = 0; l < latent; l++) {
                    assertEquals(regenerated[b * stride + l], saved[b * stride + l], 0f, "dmu does not use the noise");
                    // z - mu differs from sigma * eps by the rounding of the saved z: half an ulp of each z.
                    double tolerance = 2 * Math.ulp(regenerated[b * stride + latent + l]);
                    for (int k = 0; k < samples; k++) {
                        int i = (k * rows + b) * latent + l;
                        tolerance += 0.5 * Math.abs(dz[i]) * Math.ulp(z[i]);
                    }
                    assertEquals(regenerated[b * stride + latent + l], saved[b * stride + latent + l], tolerance,
                            "dlogvar[" + b + "][" + l + "] of " + describe(shape));
                }
                for (int column = 2 * latent; column < stride; column++) {
                    assertTrue(Float.isNaN(saved[b * stride + column]), "padding column " + column + " was written");
                }
            }
        }
    }

    /**
     * The part of the loss that depends on row b's [mu | logvar], in double, from the spec's formulas:
     * {@code sum_k sum_l dz * (mu + exp(0.5 logvar) eps) + beta * w * KL_b}. Its gradient is what backward returns.
     */
    private static double rowLoss(double[] parameters, float[] eps, float[] dz, int b, int rows, int latent,
                                  int samples, float beta, float rowWeight) {
        double loss = 0;
        for (int l = 0; l < latent; l++) {
            double mu = parameters[l];
            double logvar = parameters[latent + l];
            for (int k = 0; k < samples; k++) {
                int i = (k * rows + b) * latent + l;
                loss += dz[i] * (mu + Math.exp(0.5 * logvar) * eps[i]);
            }
            loss += (double) beta * rowWeight * 0.5 * (mu * mu + Math.exp(logvar) - 1 - logvar);
        }
        return loss;
    }

    private static double rowLossMagnitude(double[] parameters, float[] eps, float[] dz, int b, int rows, int latent,
                                           int samples, float beta, float rowWeight) {
        double magnitude = 0;
        for (int l = 0; l < latent; l++) {
            double mu = parameters[l];
            double logvar = parameters[latent + l];
            for (int k = 0; k < samples; k++) {
                int i = (k * rows + b) * latent + l;
                magnitude += Math.abs(dz[i] * mu) + Math.abs(dz[i] * Math.exp(0.5 * logvar) * eps[i]);
            }
            magnitude += beta * rowWeight * 0.5 * (mu * mu + Math.exp(logvar) + 1 + Math.abs(logvar));
        }
        return magnitude;
    }

    /** B x rowStride with mu ~ N(0, 2^2), logvar in [-20, 10] and NaN padding that must never be read. */
    static float[] encoderOutput(TestRandom random, int rows, int latent, int stride) {
        float[] muLogvar = nanArray(rows * stride);
        float[] mu = random.normals(rows * latent, 2.0);
        float[] logvar = random.logvars(rows * latent);
        for (int b = 0; b < rows; b++) {
            System.arraycopy(mu, b * latent, muLogvar, b * stride, latent);
            System.arraycopy(logvar, b * latent, muLogvar, b * stride + latent, latent);
        }
        return muLogvar;
    }

    static float[] nanArray(int n) {
        float[] out = new float[n];
        java.util.Arrays.fill(out, Float.NaN);
        return out;
    }

    private static String describe(int[] shape) {
        return "B=" + shape[0] + " L=" + shape[1] + " K=" + shape[2] + " rowStride=" + shape[3];
    }
}
