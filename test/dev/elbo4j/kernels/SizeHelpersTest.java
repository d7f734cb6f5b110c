package dev.elbo4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;

/**
 * The public size helpers count exactly and refuse, with a message, a count past {@code Long.MAX_VALUE}: they once
 * wrapped ({@code workspaceFloats(MAX, MAX, MAX)} was negative, {@code scratchFloats} wrapped to a small number).
 */
class SizeHelpersTest {
    private static final int MAX = Integer.MAX_VALUE;

    @Test
    void gaussianWorkspaceIsOnePartialSumPerColumnPer16Rows() {
        assertEquals(784, GaussianKernels.workspaceFloats(LikelihoodShape.of(16, 784)));
        assertEquals(2 * 784, GaussianKernels.workspaceFloats(LikelihoodShape.of(17, 784)));
        assertEquals(3L * 5, GaussianKernels.workspaceFloats(LikelihoodShape.of(11, 5).withSamples(4)));
    }

    @Test
    void gaussianWorkspaceOfTheLargestShapeIsRefusedNotNegative() {
        IllegalArgumentException tooLarge = assertThrows(IllegalArgumentException.class,
                () -> GaussianKernels.workspaceFloats(new LikelihoodShape(MAX, MAX, MAX)));
        assertTrue(tooLarge.getMessage().contains("Long.MAX_VALUE"), tooLarge.getMessage());
        // The largest count that fits is exact, not rounded.
        long rows = (long) MAX * MAX;
        assertEquals((rows + 15) / 16 * 3, GaussianKernels.workspaceFloats(new LikelihoodShape(MAX, MAX, 3)));
    }

    @Test
    void unfusedScratchIsRefusedWhenItCannotBeCounted() {
        IllegalArgumentException products = assertThrows(IllegalArgumentException.class,
                () -> UnfusedElbo.scratchFloats(new LatentShape(MAX, MAX, MAX / 2, MAX - 1), LikelihoodShape.of(1, 1)));
        assertTrue(products.getMessage().contains("Long.MAX_VALUE"), products.getMessage());
        // K*B*L fits in a long but three of it (the latent backward's intermediates) do not.
        IllegalArgumentException sums = assertThrows(IllegalArgumentException.class,
                () -> UnfusedElbo.scratchFloats(new LatentShape(MAX, MAX, 1, 2), LikelihoodShape.of(1, 1)));
        assertTrue(sums.getMessage().contains("Long.MAX_VALUE"), sums.getMessage());
    }

    @Test
    void unfusedScratchCoversTheLargestSequence() {
        // Bernoulli with binarized pixels: 3 B*D + 3 K*B*D floats, plus 6 slices of 4 floats of alignment.
        LikelihoodShape likelihood = LikelihoodShape.of(4096, 784);
        assertEquals(6L * 4096 * 784 + 24, UnfusedElbo.scratchFloats(LatentShape.of(4096, 32), likelihood));
    }
}
