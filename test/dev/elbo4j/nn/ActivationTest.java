package dev.elbo4j.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.elbo4j.reference.Dense;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.DenseShape;

/**
 * The activations at NaN and at 0 as PyTorch 1.13 computes them, so that a NaN weight reaches the loss (and the
 * step's non-finite guard) through every activation. Measured on this machine with
 * <pre>
 *   /usr/bin/python3 -c "import torch; x = torch.tensor([float('nan'), 0.], requires_grad=True)
 *   for f in [torch.relu, torch.nn.functional.leaky_relu, torch.tanh, torch.nn.functional.silu]:
 *       x.grad = None; y = f(x); y.backward(torch.ones(2)); print(y.tolist(), x.grad.tolist())"
 * </pre>
 * which prints NaN for every output at NaN, and the gradients relu: [1, 0], leaky_relu: [0.01, 0.01],
 * tanh: [NaN, 1], silu: [NaN, 0.5] (relu's backward is {@code x <= 0 ? 0 : grad}, leaky relu's
 * {@code x > 0 ? grad : 0.01 grad}).
 */
@ExtendWith(TestRandom.Extension.class)
class ActivationTest {
    /** PyTorch's derivative at NaN of each activation ({@code NaN} where it is NaN). */
    static final Map<Activation, Double> DERIVATIVE_AT_NAN = Map.of(Activation.IDENTITY, 1.0, Activation.RELU, 1.0,
            Activation.LEAKY_RELU, Activation.LEAKY_SLOPE, Activation.TANH, Double.NaN, Activation.SILU, Double.NaN);

    @ParameterizedTest
    @EnumSource(Activation.class)
    void nanStaysNanAndItsDerivativeIsPyTorchs(Activation activation) {
        assertTrue(Double.isNaN(activation.apply(Double.NaN)), activation + "(NaN) = " + activation.apply(Double.NaN));
        assertEquals(DERIVATIVE_AT_NAN.get(activation), activation.derivative(Double.NaN), activation + "'(NaN)");
    }

    @Test
    void atZeroTheyAreWhatPyTorchGives() {
        assertEquals(0.0, Activation.RELU.apply(0.0));
        assertEquals(0.0, Activation.RELU.apply(-0.0), 0.0);
        assertEquals(0.0, Activation.RELU.derivative(0.0));
        assertEquals(Activation.LEAKY_SLOPE, Activation.LEAKY_RELU.derivative(0.0));
        assertEquals(1.0, Activation.TANH.derivative(0.0));
        assertEquals(0.5, Activation.SILU.derivative(0.0));
        assertEquals(3.0, Activation.RELU.apply(3.0));
        assertEquals(0.0, Activation.RELU.apply(-3.0));
    }

    /** A NaN weight makes its output column NaN on every row, whatever the activation (the reference layer). */
    @ParameterizedTest
    @EnumSource(Activation.class)
    void aNanWeightMakesItsOutputNanThroughTheReferenceLayer(Activation activation, TestRandom random) {
        DenseShape shape = new DenseShape(4, 5, 3);
        float[] x = random.normals(20, 1.0);
        x[0] = 0f; // 0 * NaN is NaN too
        float[] weight = random.normals(15, 0.5);
        weight[5] = Float.NaN; // output 1, input 0
        float[] y = new float[12];
        Dense.forward(shape, x, weight, random.normals(3, 0.5), activation, null, y);
        for (int r = 0; r < 4; r++) {
            for (int o = 0; o < 3; o++) {
                float value = y[r * 3 + o];
                assertEquals(o == 1, Float.isNaN(value), random.tag() + ": " + activation + " row " + r + " output " + o
                        + " = " + value);
            }
        }
    }
}
