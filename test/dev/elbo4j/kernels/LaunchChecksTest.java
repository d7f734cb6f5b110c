package dev.elbo4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;

/**
 * The size limit every launcher checks before a launch ({@link LaunchChecks#indexable}): tensors must fit the kernels'
 * 32-bit indices with room for the loop steps past the last index (no device needed).
 */
class LaunchChecksTest {
    /** The largest step a kernel's int loop counter takes past its bound: a Bernoulli pass of two 128-column tiles. */
    private static final int LARGEST_LOOP_STEP = 256;

    @Test
    void theLimitLeavesRoomForTheKernelsLoopSteps() {
        assertTrue(LaunchChecks.MAX_ELEMENTS + LARGEST_LOOP_STEP <= Integer.MAX_VALUE,
                "an index below the limit plus one loop step must not overflow an int");
    }

    @Test
    void shapesUpToTheLimitPass() {
        assertEquals(LaunchChecks.MAX_ELEMENTS, LaunchChecks.indexable("x (D)", LaunchChecks.MAX_ELEMENTS));
        assertEquals(4096L * 784, LaunchChecks.indexable("logits (K*B x D)",
                LikelihoodShape.of(4096, 784).outputElements()));
    }

    @Test
    void shapesPastTheLimitThrowNamingTheTensor() {
        // One row of D = 2^31 - 8 columns: a 256-column pass past the last tile would wrap the kernel's int counter.
        IllegalArgumentException oneRow = assertThrows(IllegalArgumentException.class,
                () -> LaunchChecks.indexable("logits (K*B x D) = 1 x 2147483639",
                        LikelihoodShape.of(1, Integer.MAX_VALUE - 8).outputElements()));
        assertTrue(oneRow.getMessage().contains("logits (K*B x D) = 1 x 2147483639"), oneRow.getMessage());
        assertTrue(oneRow.getMessage().contains("32-bit"), oneRow.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> LaunchChecks.indexable("x (D)", LaunchChecks.MAX_ELEMENTS + 1));
        // A product that wraps in int arithmetic is still caught (the shape records count in exact long).
        assertThrows(IllegalArgumentException.class, () -> LaunchChecks.indexable("z (K x B x L)",
                LatentShape.of(65536, 1).withSamples(65536).sampleElements()));
    }
}
