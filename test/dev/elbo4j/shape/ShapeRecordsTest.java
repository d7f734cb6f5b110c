package dev.elbo4j.shape;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** The shape records check their dimensions when they are made and count their elements exactly. */
class ShapeRecordsTest {
    private static final int MAX = Integer.MAX_VALUE;

    @Test
    void everyDimensionMustBeAtLeastOne() {
        expect(() -> new LatentShape(0, 1, 1, 2), "K (samples) must be at least 1 but is 0");
        expect(() -> LatentShape.of(0, 3), "B (batch) must be at least 1 but is 0");
        expect(() -> LatentShape.of(4, 0), "L (latent) must be at least 1 but is 0");
        expect(() -> LatentShape.of(4, 3).withRowStride(5), "rowStride 5 is less than 2L = 6");
        expect(() -> LikelihoodShape.of(4, 784).withSamples(-1), "K (samples) must be at least 1 but is -1");
        expect(() -> LikelihoodShape.of(4, 0), "D (dims) must be at least 1 but is 0");
        expect(() -> new SampleShape(3, 0), "B (batch) must be at least 1 but is 0");
    }

    @Test
    void factoriesNameEachDimension() {
        LatentShape latent = LatentShape.of(128, 32).withSamples(5);
        assertEquals(new LatentShape(5, 128, 32, 64), latent);
        assertEquals(new SampleShape(5, 128), latent.sampleShape());
        assertEquals(128L * 64, latent.encoderElements());
        assertEquals(5L * 128 * 32, latent.sampleElements());
        LikelihoodShape likelihood = LikelihoodShape.of(128, 784).withSamples(5);
        assertEquals(5L * 128 * 784, likelihood.outputElements());
        assertEquals(128L * 784, likelihood.dataElements());
        assertEquals(640L, likelihood.sampleShape().rows());
    }

    @Test
    void countsAreExactAndRefusedPastLongMaxValue() {
        assertEquals((long) MAX * MAX, new SampleShape(MAX, MAX).rows());
        assertEquals((long) MAX * MAX * 2, new LikelihoodShape(MAX, MAX, 2).outputElements());
        expect(() -> new LikelihoodShape(MAX, MAX, MAX).outputElements(), "more than Long.MAX_VALUE");
        expect(() -> new LatentShape(MAX, MAX, MAX / 2, MAX - 1).sampleElements(), "more than Long.MAX_VALUE");
        expect(() -> LatentShape.of(1, MAX), "2L");
    }

    private static void expect(Executable call, String fragment) {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class, call);
        assertTrue(error.getMessage().contains(fragment), error.getMessage());
    }
}
