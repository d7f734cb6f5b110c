package dev.elbo4j.reference;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.elbo4j.reference.Gaussian.LogVariance;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;
import dev.elbo4j.shape.SampleShape;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Every shape mismatch is an IllegalArgumentException whose message names the shape given and the shape needed. */
class ShapeValidationTest {

    @Test
    void bernoulliNamesBothShapes() {
        LikelihoodShape shape = LikelihoodShape.of(4, 784);
        expect(() -> Bernoulli.logProb(shape, new float[4 * 784], Targets.values(new float[4 * 783]), new float[4]),
                "x", "4 x 783", "4 x 784");
        expect(() -> Bernoulli.logProb(shape, new float[4 * 783], Targets.values(new float[4 * 784]), new float[4]),
                "logits", "1 x 4 x 783", "1 x 4 x 784");
        expect(() -> Bernoulli.logProb(shape.withSamples(2), new float[2 * 4 * 784], Targets.pixels(new byte[3 * 784]),
                new float[8]), "pixels", "2352 elements", "4 x 784");
        expect(() -> Bernoulli.logProb(shape, new float[4 * 784], Targets.values(new float[4 * 784]), new float[3]),
                "logp", "3", "1 x 4");
        expect(() -> Bernoulli.logProbAndGrad(shape, new float[4 * 784], Targets.values(new float[4 * 784]), 0.25f,
                new float[4], new float[4 * 780]), "grad", "1 x 4 x 780", "1 x 4 x 784");
        expect(() -> Bernoulli.logProb(LikelihoodShape.of(0, 784), new float[0], Targets.values(new float[0]),
                new float[0]), "B", "at least 1", "0");
        expect(() -> Bernoulli.logProb(LikelihoodShape.of(4, 0), new float[0], Targets.values(new float[0]),
                new float[4]), "D", "at least 1", "0");
        expect(() -> Bernoulli.logProb(shape.withSamples(0), new float[0], Targets.values(new float[0]), new float[0]),
                "K", "at least 1", "0");
    }

    @Test
    void reparameterizationNamesBothShapes() {
        LatentShape shape = LatentShape.of(4, 3);
        expect(() -> Reparameterization.forward(shape.withRowStride(5), new float[4 * 6], 0, 0, new float[12],
                new float[4]), "rowStride 5", "2L = 6");
        expect(() -> Reparameterization.forward(shape, new float[3 * 6], 0, 0, new float[12], new float[4]),
                "muLogvar", "3 x 6", "4 x 6");
        expect(() -> Reparameterization.forward(shape.withSamples(2), new float[4 * 6], 0, 0, new float[2 * 4 * 2],
                new float[4]), "z", "2 x 4 x 2", "2 x 4 x 3");
        expect(() -> Reparameterization.forward(shape, new float[4 * 6], 0, 0, new float[12], new float[5]),
                "kl", "5", "B = 4");
        expect(() -> Reparameterization.forward(shape.withSamples(0), new float[4 * 6], 0, 0, new float[0],
                new float[4]), "K", "at least 1", "0");
        expect(() -> Reparameterization.kl(LatentShape.of(4, 0), new float[0], new float[4]), "L", "at least 1", "0");
        LatentShape strided = shape.withSamples(2).withRowStride(8);
        expect(() -> Reparameterization.backward(strided, new float[4 * 8], new float[2 * 4 * 4], 0, 0, 1f, 0.25f,
                new float[4 * 8]), "dz", "2 x 4 x 4", "2 x 4 x 3");
        expect(() -> Reparameterization.backward(shape.withRowStride(8), new float[4 * 8], new float[12], 0, 0, 1f,
                0.25f, new float[4 * 6]), "dMuLogvar", "24 elements", "4 x 8");
        expect(() -> Reparameterization.backwardFromSamples(shape.withSamples(2), new float[4 * 6], new float[12],
                new float[24], 1f, 0.25f, new float[24]), "z", "12 elements", "2 x 4 x 3");
    }

    @Test
    void gaussianNamesBothShapes() {
        LikelihoodShape shape = LikelihoodShape.of(2, 10);
        float[] mean = new float[2 * 10];
        float[] x = new float[2 * 10];
        expect(() -> Gaussian.logProb(shape, mean, new float[2 * 9], new LogVariance.Fixed(0f), new float[2]),
                "x", "2 x 9", "2 x 10");
        expect(() -> Gaussian.logProb(shape, mean, x, new LogVariance.PerDimension(new float[9]), new float[2]),
                "per dimension", "9", "D = 10");
        expect(() -> Gaussian.logProb(shape, mean, x, new LogVariance.PerRow(new float[10]), new float[2]),
                "per row", "10 elements", "1 x 2 x 10");
        expect(() -> Gaussian.logProbAndGrad(shape, mean, x, new LogVariance.PerDimension(new float[10]), 0.5f,
                new float[2], new float[20], new float[20]), "gradLogVar", "20", "D = 10");
        expect(() -> Gaussian.logProbAndGrad(shape, mean, x, new LogVariance.PerRow(new float[20]), 0.5f,
                new float[2], new float[21], new float[20]), "gradMean", "21", "1 x 2 x 10");
        expect(() -> Gaussian.logProb(shape.withSamples(0), mean, x, new LogVariance.Fixed(0f), new float[0]),
                "K", "at least 1", "0");
        expect(() -> Gaussian.logProb(LikelihoodShape.of(0, 10), new float[0], new float[0],
                new LogVariance.Fixed(0f), new float[0]), "B", "at least 1", "0");
    }

    @Test
    void elboAndIwaeNameBothShapes() {
        SampleShape four = SampleShape.of(4);
        SampleShape weights = new SampleShape(3, 5);
        expect(() -> Elbo.loss(four, new float[4], new float[3], 1f), "kl", "3", "B = 4");
        expect(() -> Elbo.perRow(four, new float[4], new float[4], new float[2]), "elbo", "2", "B = 4");
        expect(() -> Elbo.loss(four.withSamples(2), new float[4], new float[4], 1f), "K = 1", "K x B = 2 x 4");
        expect(() -> Iwae.bound(weights, new float[3 * 4], new float[5]), "logWeights", "3 x 4", "3 x 5");
        expect(() -> Iwae.bound(weights, new float[3 * 5], new float[4]), "bound", "4", "B = 5");
        expect(() -> Iwae.logWeights(LatentShape.of(5, 2).withSamples(3), new float[5 * 4], new float[3 * 4], 0, 0,
                new float[15]), "logpx", "3 x 4", "3 x 5");
        expect(() -> Iwae.gap(SampleShape.of(5), new float[5], new float[6]), "elbo", "6", "B = 5");
        expect(() -> Iwae.gap(weights, new float[5], new float[5]), "K = 1", "K x B = 3 x 5");
        expect(() -> Iwae.bound(new SampleShape(0, 5), new float[0], new float[5]), "K", "at least 1", "0");
        expect(() -> Iwae.bound(new SampleShape(3, 0), new float[0], new float[0]), "B", "at least 1", "0");
        expect(() -> Elbo.loss(SampleShape.of(0), new float[0], new float[0], 1f), "B", "at least 1", "0");
        expect(() -> Elbo.bitsPerDimension(-100, 0), "D", "at least 1", "0");
    }

    @Test
    void nullArraysAndShapesAreNamed() {
        var error = assertThrows(NullPointerException.class,
                () -> Bernoulli.logProb(LikelihoodShape.of(1, 1), null, Targets.values(new float[1]), new float[1]));
        assertTrue(error.getMessage().contains("logits"), error.getMessage());
        error = assertThrows(NullPointerException.class, () -> Targets.values(null));
        assertTrue(error.getMessage().contains("x"), error.getMessage());
        error = assertThrows(NullPointerException.class,
                () -> Bernoulli.logProb(null, new float[1], Targets.values(new float[1]), new float[1]));
        assertTrue(error.getMessage().contains("shape"), error.getMessage());
    }

    private static void expect(Executable call, String... fragments) {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, call);
        for (String fragment : fragments) {
            assertTrue(error.getMessage().contains(fragment),
                    "message \"" + error.getMessage() + "\" should name \"" + fragment + "\"");
        }
    }
}
