package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.KernelAssertions.assertBitIdentical;
import static dev.elbo4j.kernels.KernelAssertions.assertElementwise;
import static dev.elbo4j.kernels.KernelAssertions.assertStillPoisoned;
import static dev.elbo4j.kernels.KernelAssertions.poisoned;
import static dev.elbo4j.kernels.KernelAssertions.upload;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.nn.Activation;
import dev.elbo4j.reference.Dense;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.DenseShape;

/**
 * The bias + activation forward and the activation backward ({@link ActivationKernels}) against the reference
 * ({@link Dense}, {@link Activation}) on fresh random inputs (GEMM outputs beyond +-30 included), for every
 * activation, at shapes that are 1, odd, or not multiples of 4 (the scalar path) and multiples of 4 (the float4
 * path), outputs poisoned with NaN first.
 */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, TestRandom.Extension.class})
class ActivationKernelsTest {
    /** {rows, outputs}. */
    private static final int[][] SHAPES = {{1, 1}, {1, 3}, {5, 4}, {7, 33}, {3, 400}, {130, 20}, {17, 257}};

    private final CudaContext cuda;
    private final ActivationKernels kernels;

    ActivationKernelsTest(CudaContext cuda) {
        this.cuda = cuda;
        this.kernels = new ActivationKernels(cuda);
    }

    /**
     * The reference forward of the bias and activation alone: {@link Dense#forward} of the GEMM output through an
     * identity weight (outputs x outputs), so that {@code pre = product + bias} exactly as the reference forms it.
     */
    private static void referenceForward(DenseShape shape, float[] product, float[] bias, Activation activation,
                                         float[] pre, float[] y) {
        int outputs = shape.outputs();
        float[] identity = new float[outputs * outputs];
        for (int o = 0; o < outputs; o++) {
            identity[o * outputs + o] = 1f;
        }
        Dense.forward(new DenseShape(shape.rows(), outputs, outputs), product, identity, bias, activation, pre, y);
    }

    @ParameterizedTest
    @EnumSource(Activation.class)
    void forwardMatchesTheReference(Activation activation, TestRandom random) {
        for (int[] dims : SHAPES) {
            DenseShape shape = new DenseShape(dims[0], 1 + random.nextInt(9), dims[1]);
            String where = activation + " " + shape;
            int n = dims[0] * dims[1];
            float[] product = random.logits(n);
            float[] bias = random.normals(dims[1], 1.0);
            float[] pre = new float[n];
            float[] y = new float[n];
            referenceForward(shape, product, bias, activation, pre, y);
            try (DeviceBuffer preBuffer = upload(cuda, product); DeviceBuffer biasBuffer = upload(cuda, bias);
                 DeviceBuffer out = poisoned(cuda, n)) {
                kernels.forward(null, shape, preBuffer, biasBuffer, activation, out);
                assertElementwise(where + ": pre-activation", preBuffer.toFloatArray(), pre);
                assertElementwise(where + ": output", out.toFloatArray(), y);
            }
            if (ActivationKernels.backwardReadsOutput(activation)) {
                // In place: the output replaces the pre-activation.
                try (DeviceBuffer inPlace = upload(cuda, product); DeviceBuffer biasBuffer = upload(cuda, bias)) {
                    kernels.forward(null, shape, inPlace, biasBuffer, activation, inPlace);
                    assertElementwise(where + ": output in place", inPlace.toFloatArray(), y);
                }
            }
        }
    }

    /** {@code dY * act'(pre)} from the reference activation, in double, rounded once. */
    private static float[] expectedBackward(Activation activation, float[] pre, float[] dY) {
        float[] out = new float[pre.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (dY[i] * activation.derivative(pre[i]));
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(Activation.class)
    void backwardMatchesTheReference(Activation activation, TestRandom random) {
        for (int[] dims : SHAPES) {
            DenseShape shape = new DenseShape(dims[0], 1, dims[1]);
            String where = activation + " " + shape;
            int n = dims[0] * dims[1];
            float[] pre = random.logits(n);
            float[] dY = random.normals(n, 1.0);
            float[] expected = expectedBackward(activation, pre, dY);
            try (DeviceBuffer preBuffer = upload(cuda, pre); DeviceBuffer dYBuffer = upload(cuda, dY);
                 DeviceBuffer dPre = poisoned(cuda, n)) {
                kernels.backward(null, shape, preBuffer, dYBuffer, activation, dPre);
                assertElementwise(where + ": dPre", dPre.toFloatArray(), expected);
                kernels.backward(null, shape, preBuffer, dYBuffer, activation, dYBuffer);
                assertElementwise(where + ": dPre in place", dYBuffer.toFloatArray(), expected);
            }
            if (ActivationKernels.backwardReadsOutput(activation)) {
                float[] y = new float[n];
                for (int i = 0; i < n; i++) {
                    y[i] = (float) activation.apply(pre[i]);
                }
                try (DeviceBuffer output = upload(cuda, y); DeviceBuffer dYBuffer = upload(cuda, dY);
                     DeviceBuffer dPre = poisoned(cuda, n)) {
                    kernels.backward(null, shape, output, dYBuffer, activation, dPre);
                    assertElementwise(where + ": dPre from the output", dPre.toFloatArray(), expected);
                }
            }
        }
    }

    @Test
    void aNonFiniteGradientStaysNonFiniteWhereTheDerivativeIsZero(TestRandom random) {
        DenseShape shape = new DenseShape(1, 1, 4);
        float[] pre = {-1f, -2f, 3f, -50f};
        float[] dY = {Float.NaN, Float.POSITIVE_INFINITY, Float.NaN, 1f};
        try (DeviceBuffer preBuffer = upload(cuda, pre); DeviceBuffer dYBuffer = upload(cuda, dY);
             DeviceBuffer dPre = poisoned(cuda, 4)) {
            kernels.backward(null, shape, preBuffer, dYBuffer, Activation.RELU, dPre);
            float[] out = dPre.toFloatArray();
            assertTrue(Float.isNaN(out[0]) && Float.isNaN(out[1]) && Float.isNaN(out[2]) && out[3] == 0f,
                    random.tag() + ": " + Arrays.toString(out) + " (NaN * 0 and inf * 0 must stay NaN, as dY * 0 in "
                            + "the reference)");
        }
    }

    @ParameterizedTest
    @EnumSource(Activation.class)
    void theSameInputsGiveTheSameBits(Activation activation, TestRandom random) {
        DenseShape shape = new DenseShape(33, 8, 36);
        int n = 33 * 36;
        float[] product = random.logits(n);
        float[] bias = random.normals(36, 1.0);
        float[][] runs = new float[2][];
        for (int run = 0; run < 2; run++) {
            try (DeviceBuffer pre = upload(cuda, product); DeviceBuffer biasBuffer = upload(cuda, bias);
                 DeviceBuffer out = poisoned(cuda, n)) {
                kernels.forward(null, shape, pre, biasBuffer, activation, out);
                kernels.backward(null, shape, pre, out, activation, out);
                runs[run] = out.toFloatArray();
            }
        }
        assertBitIdentical(activation + " forward + backward", runs[0], runs[1]);
    }

    @Test
    void badArgumentsAreRefusedBeforeTheLaunchNamingTheArgument() {
        DenseShape shape = new DenseShape(4, 3, 8);
        try (DeviceBuffer pre = poisoned(cuda, 32); DeviceBuffer out = poisoned(cuda, 32);
             DeviceBuffer shortOut = poisoned(cuda, 31); DeviceBuffer bias = poisoned(cuda, 8);
             DeviceBuffer shared = poisoned(cuda, 36)) {
            IllegalArgumentException tooShort = assertThrows(IllegalArgumentException.class,
                    () -> kernels.forward(null, shape, pre, bias, Activation.RELU, shortOut));
            assertTrue(tooShort.getMessage().contains("output") && tooShort.getMessage().contains("4 x 8"),
                    tooShort.getMessage());
            IllegalArgumentException needsPre = assertThrows(IllegalArgumentException.class,
                    () -> kernels.forward(null, shape, pre, bias, Activation.TANH, pre));
            assertTrue(needsPre.getMessage().contains("TANH"), needsPre.getMessage());
            IllegalArgumentException overlap = assertThrows(IllegalArgumentException.class,
                    () -> kernels.forward(null, shape, shared.sliceFloats(0, 32), bias, Activation.SILU,
                            shared.sliceFloats(4, 32)));
            assertTrue(overlap.getMessage().contains("overlap"), overlap.getMessage());
            IllegalArgumentException savedOverlap = assertThrows(IllegalArgumentException.class,
                    () -> kernels.backward(null, shape, out, pre, Activation.TANH, out));
            assertTrue(savedOverlap.getMessage().contains("saved"), savedOverlap.getMessage());
            DeviceBuffer closed = poisoned(cuda, 32);
            closed.close();
            IllegalStateException closedBuffer = assertThrows(IllegalStateException.class,
                    () -> kernels.backward(null, shape, pre, closed, Activation.RELU, out));
            assertTrue(closedBuffer.getMessage().contains("dOutput"), closedBuffer.getMessage());
            assertStillPoisoned("output of refused calls", out.toFloatArray());
        }
    }
}
