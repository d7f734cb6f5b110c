package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.KernelAssertions.assertBitIdentical;
import static dev.elbo4j.kernels.KernelAssertions.assertRowSums;
import static dev.elbo4j.kernels.KernelAssertions.poisoned;
import static dev.elbo4j.kernels.KernelAssertions.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.nn.Activation;
import dev.elbo4j.reference.Dense;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.DenseShape;

/**
 * The bias gradient ({@link BiasGradientKernels}) against the reference ({@link Dense#backward}'s dBias) on fresh
 * random inputs: one row, one column, odd widths, one chunk and several (rows around the 256-row chunk), outputs
 * and workspace poisoned with NaN first; the same inputs give the same bits.
 */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, TestRandom.Extension.class})
class BiasGradientKernelsTest {
    /** {rows, outputs}. */
    private static final int[][] SHAPES = {{1, 1}, {1, 5}, {7, 3}, {256, 33}, {257, 1}, {600, 70}, {1100, 32}};

    private final CudaContext cuda;
    private final BiasGradientKernels kernels;

    BiasGradientKernelsTest(CudaContext cuda) {
        this.cuda = cuda;
        this.kernels = new BiasGradientKernels(cuda);
    }

    /** Runs the kernels with the output and the workspace poisoned. */
    private float[] run(DenseShape shape, float[] dPre) {
        long workspaceBytes = BiasGradientKernels.workspaceBytes(shape);
        try (DeviceBuffer input = upload(cuda, dPre); DeviceBuffer dBias = poisoned(cuda, shape.outputs());
             DeviceBuffer workspace = workspaceBytes == 0 ? null : cuda.allocate(workspaceBytes)) {
            if (workspace != null) {
                workspace.fillBytes((byte) 0xff); // NaN doubles
            }
            kernels.compute(null, shape, input, workspace, dBias);
            return dBias.toFloatArray();
        }
    }

    @Test
    void matchesTheReferenceAtEveryShape(TestRandom random) {
        for (int[] dims : SHAPES) {
            DenseShape shape = new DenseShape(dims[0], 1, dims[1]);
            float[] dPre = random.normals(dims[0] * dims[1], 1.0);
            // The reference's dBias with an identity activation is the column sum of dY, in double, rounded once.
            float[] expected = new float[dims[1]];
            Dense.backward(shape, new float[dims[0]], new float[dims[1]], new float[dPre.length], Activation.IDENTITY,
                    dPre, null, new float[dims[1]], expected);
            double[] magnitudes = new double[dims[1]];
            for (int i = 0; i < dPre.length; i++) {
                magnitudes[i % dims[1]] += Math.abs(dPre[i]);
            }
            float[] actual = run(shape, dPre);
            assertRowSums(shape + " (" + BiasGradientKernels.chunks(shape) + " chunks): dBias", actual, expected,
                    magnitudes);
            assertBitIdentical(shape + ": a second run", actual, run(shape, dPre));
        }
    }

    @Test
    void theWorkspaceIsNeededOnlyBeyondOneChunk() {
        assertEquals(0, BiasGradientKernels.workspaceBytes(new DenseShape(256, 9, 400)));
        assertEquals(2L * 400 * Double.BYTES, BiasGradientKernels.workspaceBytes(new DenseShape(257, 9, 400)));
        assertEquals(16L * 512 * Double.BYTES, BiasGradientKernels.workspaceBytes(new DenseShape(4096, 9, 512)));
    }

    @Test
    void aMissingOrShortWorkspaceIsRefused() {
        DenseShape shape = new DenseShape(300, 1, 4);
        try (DeviceBuffer dPre = poisoned(cuda, 1200); DeviceBuffer dBias = poisoned(cuda, 4);
             DeviceBuffer tooSmall = cuda.allocate(2 * 4 * Double.BYTES - 8)) {
            assertThrows(NullPointerException.class, () -> kernels.compute(null, shape, dPre, null, dBias));
            IllegalArgumentException small = assertThrows(IllegalArgumentException.class,
                    () -> kernels.compute(null, shape, dPre, tooSmall, dBias));
            assertTrue(small.getMessage().contains("workspace") && small.getMessage().contains("2 chunks"),
                    small.getMessage());
            IllegalArgumentException overlap = assertThrows(IllegalArgumentException.class,
                    () -> kernels.compute(null, shape, dPre, dPre, dBias));
            assertTrue(overlap.getMessage().contains("overlap"), overlap.getMessage());
        }
    }
}
