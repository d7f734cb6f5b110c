package dev.elbo4j.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.DoubleUnaryOperator;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.elbo4j.nn.Activation;
import dev.elbo4j.shape.DenseShape;

@ExtendWith(TestRandom.Extension.class)
class DenseTest {

    @Test
    void forwardIsXTimesWeightTransposedPlusBiasThroughTheActivation() {
        DenseShape shape = new DenseShape(2, 3, 2);
        float[] x = {1, 2, 3, -1, 0, 0.5f};
        float[] weight = {0.5f, -1, 2, 0, 1, -3};       // 2 outputs x 3 inputs
        float[] bias = {0.25f, -0.5f};
        float[] pre = new float[4];
        float[] y = new float[4];
        Dense.forward(shape, x, weight, bias, Activation.RELU, pre, y);
        // row 0: 0.5 - 2 + 6 + 0.25 = 4.75; 0 + 2 - 9 - 0.5 = -7.5; row 1: -0.5 + 0 + 1 + 0.25 = 0.75; 0 + 0 - 1.5 - 0.5 = -2
        assertArrayEquals(new float[] {4.75f, -7.5f, 0.75f, -2f}, pre);
        assertArrayEquals(new float[] {4.75f, 0f, 0.75f, 0f}, y);
    }

    @ParameterizedTest
    @EnumSource(Activation.class)
    void derivativesMatchCentralDifferences(Activation activation, TestRandom random) {
        for (int n = 0; n < 200; n++) {
            double a = random.uniform(-6, 6);
            if (Math.abs(a) < 1e-3) {
                continue; // ReLU and leaky ReLU have a kink at 0
            }
            FiniteDifference.assertGradient(random.tag() + " " + activation + "'(" + a + ")", activation.derivative(a),
                    activation::apply, a, 1e-5, Math.abs(activation.apply(a)) + Math.abs(a), 1e-9);
        }
    }

    @ParameterizedTest
    @EnumSource(Activation.class)
    void backwardMatchesCentralDifferencesOfAWeightedSumOfTheOutputsInDouble(Activation activation,
                                                                            TestRandom random) {
        int rows = 1 + random.nextInt(5);
        int inputs = 1 + random.nextInt(7);
        int outputs = 1 + random.nextInt(6);
        DenseShape shape = new DenseShape(rows, inputs, outputs);
        float[] x = random.normals(rows * inputs, 1.0);
        float[] weight = random.normals(outputs * inputs, 0.7);
        float[] bias = random.normals(outputs, 0.3);
        float[] coefficients = random.normals(rows * outputs, 1.0);
        float[] pre = new float[rows * outputs];
        float[] y = new float[rows * outputs];
        Dense.forward(shape, x, weight, bias, activation, pre, y);
        float[] dX = new float[rows * inputs];
        float[] dWeight = new float[outputs * inputs];
        float[] dBias = new float[outputs];
        Dense.backward(shape, x, weight, pre, activation, coefficients, dX, dWeight, dBias);

        double h = 1e-6;
        for (int n = 0; n < x.length; n++) {
            int at = n;
            check(random, "dx[" + n + "]", dX[n], v -> loss(shape, replaced(x, at, v), weight, bias, coefficients,
                    activation), x[n], h);
        }
        for (int n = 0; n < weight.length; n++) {
            int at = n;
            check(random, "dW[" + n + "]", dWeight[n], v -> loss(shape, x, replaced(weight, at, v), bias,
                    coefficients, activation), weight[n], h);
        }
        for (int n = 0; n < bias.length; n++) {
            int at = n;
            check(random, "db[" + n + "]", dBias[n], v -> loss(shape, x, weight, replaced(bias, at, v),
                    coefficients, activation), bias[n], h);
        }
    }

    @Test
    void shapesAreCheckedNamingTheArray() {
        DenseShape shape = new DenseShape(2, 3, 4);
        IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class, () -> Dense.forward(shape,
                new float[6], new float[5 * 3], new float[4], Activation.RELU, null, new float[8]));
        assertTrue(wrong.getMessage().startsWith("weight is 5 x 3"), wrong.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new DenseShape(0, 3, 4));
    }

    private static void check(TestRandom random, String what, float analytic, DoubleUnaryOperator loss, double at,
                              double h) {
        // Single-precision inputs rounded in the analytic path: allow float rounding of the gradient as well.
        double fd = FiniteDifference.central(loss, at, h);
        double tolerance = 1e-5 * Math.abs(fd) + 1e-5;
        assertTrue(Math.abs(analytic - fd) <= tolerance, () -> random.tag() + " " + what + ": analytic " + analytic
                + " but central difference " + fd);
    }

    /** {@code sum c[r][o] act(pre[r][o])} in double, pre from the double-valued inputs. */
    private static double loss(DenseShape shape, double[] x, double[] weight, double[] bias, float[] c,
                               Activation activation) {
        double sum = 0;
        for (int r = 0; r < shape.rows(); r++) {
            for (int o = 0; o < shape.outputs(); o++) {
                double pre = bias[o];
                for (int i = 0; i < shape.inputs(); i++) {
                    pre += x[r * shape.inputs() + i] * weight[o * shape.inputs() + i];
                }
                sum += c[r * shape.outputs() + o] * activation.apply(pre);
            }
        }
        return sum;
    }

    private static double loss(DenseShape shape, float[] x, float[] weight, float[] bias, float[] c,
                               Activation activation) {
        return loss(shape, widen(x), widen(weight), widen(bias), c, activation);
    }

    private static double loss(DenseShape shape, double[] x, float[] weight, float[] bias, float[] c,
                               Activation activation) {
        return loss(shape, x, widen(weight), widen(bias), c, activation);
    }

    private static double loss(DenseShape shape, float[] x, double[] weight, float[] bias, float[] c,
                               Activation activation) {
        return loss(shape, widen(x), weight, widen(bias), c, activation);
    }

    private static double loss(DenseShape shape, float[] x, float[] weight, double[] bias, float[] c,
                               Activation activation) {
        return loss(shape, widen(x), widen(weight), bias, c, activation);
    }

    private static double[] replaced(float[] values, int index, double value) {
        double[] copy = widen(values);
        copy[index] = value;
        return copy;
    }

    private static double[] widen(float[] values) {
        double[] wide = new double[values.length];
        for (int n = 0; n < values.length; n++) {
            wide[n] = values[n];
        }
        return wide;
    }
}
