package dev.elbo4j.reference;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.elbo4j.reference.Gaussian.LogVariance;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Every shape mismatch is an IllegalArgumentException whose message names the shape given and the shape needed. */
class ShapeValidationTest {

    @Test
    void bernoulliNamesBothShapes() {
        expect(() -> Bernoulli.logProb(new float[4 * 784], Targets.values(new float[4 * 783]), 1, 4, 784,
                new float[4]), "x", "4 x 783", "4 x 784");
        expect(() -> Bernoulli.logProb(new float[4 * 783], Targets.values(new float[4 * 784]), 1, 4, 784,
                new float[4]), "logits", "1 x 4 x 783", "1 x 4 x 784");
        expect(() -> Bernoulli.logProb(new float[2 * 4 * 784], Targets.pixels(new byte[3 * 784]), 2, 4, 784,
                new float[8]), "pixels", "2352 elements", "4 x 784");
        expect(() -> Bernoulli.logProb(new float[4 * 784], Targets.values(new float[4 * 784]), 1, 4, 784,
                new float[3]), "logp", "3", "1 x 4");
        expect(() -> Bernoulli.logProbAndGrad(new float[4 * 784], Targets.values(new float[4 * 784]), 1, 4, 784,
                0.25f, new float[4], new float[4 * 780]), "grad", "1 x 4 x 780", "1 x 4 x 784");
        expect(() -> Bernoulli.logProb(new float[0], Targets.values(new float[0]), 1, 0, 784, new float[0]),
                "B", "at least 1", "0");
        expect(() -> Bernoulli.logProb(new float[0], Targets.values(new float[0]), 1, 4, 0, new float[4]),
                "D", "at least 1", "0");
        expect(() -> Bernoulli.logProb(new float[0], Targets.values(new float[0]), 0, 4, 784, new float[0]),
                "K", "at least 1", "0");
    }

    @Test
    void reparameterizationNamesBothShapes() {
        expect(() -> Reparameterization.forward(new float[4 * 6], 4, 3, 5, 1, 0, 0, new float[12], new float[4]),
                "rowStride 5", "2L = 6");
        expect(() -> Reparameterization.forward(new float[3 * 6], 4, 3, 6, 1, 0, 0, new float[12], new float[4]),
                "muLogvar", "3 x 6", "4 x 6");
        expect(() -> Reparameterization.forward(new float[4 * 6], 4, 3, 6, 2, 0, 0, new float[2 * 4 * 2],
                new float[4]), "z", "2 x 4 x 2", "2 x 4 x 3");
        expect(() -> Reparameterization.forward(new float[4 * 6], 4, 3, 6, 1, 0, 0, new float[12], new float[5]),
                "kl", "5", "B = 4");
        expect(() -> Reparameterization.forward(new float[4 * 6], 4, 3, 6, 0, 0, 0, new float[0], new float[4]),
                "K", "at least 1", "0");
        expect(() -> Reparameterization.kl(new float[0], 4, 0, 6, new float[4]), "L", "at least 1", "0");
        expect(() -> Reparameterization.backward(new float[4 * 8], 4, 3, 8, 2, 0, 0, new float[2 * 4 * 4], 1f, 0.25f,
                new float[4 * 8]), "dz", "2 x 4 x 4", "2 x 4 x 3");
        expect(() -> Reparameterization.backward(new float[4 * 8], 4, 3, 8, 1, 0, 0, new float[12], 1f, 0.25f,
                new float[4 * 6]), "dMuLogvar", "24 elements", "4 x 8");
        expect(() -> Reparameterization.backwardFromSamples(new float[4 * 6], 4, 3, 6, 2, new float[12],
                new float[24], 1f, 0.25f, new float[24]), "z", "12 elements", "2 x 4 x 3");
    }

    @Test
    void gaussianNamesBothShapes() {
        float[] mean = new float[2 * 10];
        float[] x = new float[2 * 10];
        expect(() -> Gaussian.logProb(mean, new float[2 * 9], new LogVariance.Fixed(0f), 1, 2, 10, new float[2]),
                "x", "2 x 9", "2 x 10");
        expect(() -> Gaussian.logProb(mean, x, new LogVariance.PerDimension(new float[9]), 1, 2, 10, new float[2]),
                "per dimension", "9", "D = 10");
        expect(() -> Gaussian.logProb(mean, x, new LogVariance.PerRow(new float[10]), 1, 2, 10, new float[2]),
                "per row", "10 elements", "1 x 2 x 10");
        expect(() -> Gaussian.logProbAndGrad(mean, x, new LogVariance.PerDimension(new float[10]), 1, 2, 10, 0.5f,
                new float[2], new float[20], new float[20]), "gradLogVar", "20", "D = 10");
        expect(() -> Gaussian.logProbAndGrad(mean, x, new LogVariance.PerRow(new float[20]), 1, 2, 10, 0.5f,
                new float[2], new float[21], new float[20]), "gradMean", "21", "1 x 2 x 10");
        expect(() -> Gaussian.logProb(mean, x, new LogVariance.Fixed(0f), 0, 2, 10, new float[0]),
                "K", "at least 1", "0");
        expect(() -> Gaussian.logProb(new float[0], new float[0], new LogVariance.Fixed(0f), 1, 0, 10, new float[0]),
                "B", "at least 1", "0");
    }

    @Test
    void elboAndIwaeNameBothShapes() {
        expect(() -> Elbo.loss(new float[4], new float[3], 4, 1f), "kl", "3", "B = 4");
        expect(() -> Elbo.perRow(new float[4], new float[4], 4, new float[2]), "elbo", "2", "B = 4");
        expect(() -> Iwae.bound(new float[3 * 4], 3, 5, new float[5]), "logWeights", "3 x 4", "3 x 5");
        expect(() -> Iwae.bound(new float[3 * 5], 3, 5, new float[4]), "bound", "4", "B = 5");
        expect(() -> Iwae.logWeights(new float[5 * 4], 5, 2, 4, 3, 0, 0, new float[3 * 4], new float[15]),
                "logpx", "3 x 4", "3 x 5");
        expect(() -> Iwae.gap(new float[5], new float[6], 5), "elbo", "6", "B = 5");
        expect(() -> Iwae.bound(new float[0], 0, 5, new float[5]), "K", "at least 1", "0");
        expect(() -> Iwae.bound(new float[0], 3, 0, new float[0]), "B", "at least 1", "0");
        expect(() -> Iwae.logWeights(new float[5 * 4], 5, 2, 4, 0, 0, 0, new float[0], new float[0]),
                "K", "at least 1", "0");
        expect(() -> Elbo.loss(new float[0], new float[0], 0, 1f), "B", "at least 1", "0");
        expect(() -> Elbo.bitsPerDimension(-100, 0), "D", "at least 1", "0");
    }

    @Test
    void nullArraysAreNamed() {
        var error = assertThrows(NullPointerException.class,
                () -> Bernoulli.logProb(null, Targets.values(new float[1]), 1, 1, 1, new float[1]));
        assertTrue(error.getMessage().contains("logits"), error.getMessage());
        error = assertThrows(NullPointerException.class, () -> Targets.values(null));
        assertTrue(error.getMessage().contains("x"), error.getMessage());
    }

    private static void expect(Executable call, String... fragments) {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, call);
        for (String fragment : fragments) {
            assertTrue(error.getMessage().contains(fragment),
                    "message \"" + error.getMessage() + "\" should name \"" + fragment + "\"");
        }
    }
}
