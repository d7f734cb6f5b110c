package dev.elbo4j.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.nn.Backend.Floats;
import dev.elbo4j.reference.Dense;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.DenseShape;

/**
 * What the tests of each {@link Backend}'s operations share: host copies in and out, a dense layer against the
 * reference, the NaN-aware comparison.
 */
public final class BackendTesting {

    private BackendTesting() {
    }

    /** A new buffer of {@code backend} holding {@code values}. */
    public static Floats upload(Backend backend, float[] values) {
        Floats buffer = backend.allocateFloats(values.length);
        backend.upload(values, buffer);
        return buffer;
    }

    /** The whole of {@code buffer}, copied to the host. */
    public static float[] download(Backend backend, Floats buffer) {
        float[] out = new float[(int) buffer.size()];
        backend.download(buffer, out);
        return out;
    }

    /**
     * One dense layer of {@code shape} on {@code backend} as the model runs it (the GEMM {@code x W^T}, bias and
     * activation; the activation's derivative in place, the weight and input gradients' GEMMs and the bias
     * gradient) against {@link Dense} on fresh random inputs: every element within the spec's rule for sums,
     * {@code 1e-5} of the sum of the magnitudes behind it plus {@code 1e-5}.
     */
    public static void assertDenseLayerMatchesTheReference(Backend backend, DenseShape shape, Activation activation,
                                                           TestRandom random) {
        int rows = shape.rows();
        int inputs = shape.inputs();
        int outputs = shape.outputs();
        float[] x = random.normals(rows * inputs, 1.0);
        float[] weight = random.normals(outputs * inputs, 0.3);
        float[] bias = random.normals(outputs, 0.5);
        float[] dY = random.normals(rows * outputs, 1.0);
        float[] pre = new float[rows * outputs];
        float[] y = new float[rows * outputs];
        Dense.forward(shape, x, weight, bias, activation, pre, y);
        float[] dX = new float[x.length];
        float[] dWeight = new float[weight.length];
        float[] dBias = new float[bias.length];
        Dense.backward(shape, x, weight, pre, activation, dY, dX, dWeight, dBias);

        Floats gx = upload(backend, x);
        Floats gw = upload(backend, weight);
        Floats gpre = backend.allocateFloats(pre.length);
        Floats gy = activation == Activation.IDENTITY ? gpre : backend.allocateFloats(y.length);
        backend.gemm(GemmPrecision.FP32, false, true, rows, outputs, inputs, 1f, gx, inputs, gw, inputs, 0f, gpre,
                outputs);
        backend.biasActivation(shape, upload(backend, bias), activation, gpre, gy);
        Floats gdPre = upload(backend, dY);
        backend.activationBackward(shape, activation, gpre, gdPre, gdPre);
        Floats gdW = backend.allocateFloats(weight.length);
        Floats gdB = backend.allocateFloats(bias.length);
        Floats gdX = backend.allocateFloats(x.length);
        backend.gemm(GemmPrecision.FP32, true, false, outputs, inputs, rows, 1f, gdPre, outputs, gx, inputs, 0f, gdW,
                inputs);
        backend.biasGradient(shape, gdPre, gdB);
        backend.gemm(GemmPrecision.FP32, false, false, rows, inputs, outputs, 1f, gdPre, outputs, gw, inputs, 0f, gdX,
                inputs);

        // The magnitudes behind each element: |b| + sum_i |x w| for the pre-activation (and the output, the
        // activations being about 1-Lipschitz), |dY act'| summed over what each gradient sums.
        double[] preScale = new double[pre.length];
        double[] wScale = new double[weight.length];
        double[] bScale = new double[bias.length];
        double[] xScale = new double[x.length];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < outputs; o++) {
                double sum = Math.abs(bias[o]);
                double g = Math.abs(dY[r * outputs + o])
                        * Math.max(1.0, Math.abs(activation.derivative(pre[r * outputs + o])));
                bScale[o] += g;
                for (int i = 0; i < inputs; i++) {
                    sum += Math.abs(x[r * inputs + i] * weight[o * inputs + i]);
                    wScale[o * inputs + i] += g * Math.abs(x[r * inputs + i]);
                    xScale[r * inputs + i] += g * Math.abs(weight[o * inputs + i]);
                }
                preScale[r * outputs + o] = sum;
            }
        }
        String where = activation + " " + shape;
        assertWithin(pre, download(backend, gpre), preScale, 1e-5, where + ": preActivation", random);
        assertWithin(y, download(backend, gy), preScale, 1e-5, where + ": output", random);
        assertWithin(dWeight, download(backend, gdW), wScale, 1e-5, where + ": dWeight", random);
        assertWithin(dBias, download(backend, gdB), bScale, 1e-5, where + ": dBias", random);
        assertWithin(dX, download(backend, gdX), xScale, 1e-5, where + ": dX", random);
    }

    /**
     * Each element within {@code 1e-5 scale[i] + absolute} of the reference: {@code scale[i]} the magnitude of what
     * an element sums, or, with {@code scale} null, the reference element's own magnitude. The failure names the
     * element and the test's seed.
     */
    public static void assertWithin(float[] expected, float[] actual, double[] scale, double absolute, String what,
                                    TestRandom random) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double tolerance = 1e-5 * (scale == null ? Math.abs(expected[i]) : scale[i]) + absolute;
            if (!(Math.abs(expected[i] - actual[i]) <= tolerance)) {
                fail(random.tag() + ": " + what + "[" + i + "] = " + actual[i] + " but the reference gives "
                        + expected[i] + " (tolerance " + tolerance + ")");
            }
        }
    }

    /** Elementwise within the spec's tolerance, with NaN exactly where the reference has NaN. */
    public static void assertSameOrBothNaN(float[] expected, float[] actual, String what, TestRandom random) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Float.isNaN(expected[i]) != Float.isNaN(actual[i]) || !Float.isNaN(expected[i])
                    && !(Math.abs(expected[i] - actual[i]) <= 1e-5 * Math.abs(expected[i]) + 1e-6)) {
                fail(random.tag() + ": " + what + "[" + i + "] = " + actual[i] + " but the reference gives "
                        + expected[i]);
            }
        }
    }

    /**
     * A NaN pre-activation (what a NaN weight leaves) stays NaN through {@code activation} on {@code backend}, as in
     * PyTorch, so that it reaches the loss and the step's guard; the backward at it is the reference's
     * ({@link Activation#derivative}, PyTorch's), and a NaN gradient stays NaN where the derivative is 0
     * ({@code dY * 0}, as in the reference). A layer of 3 rows and {@code outputs} columns.
     */
    public static void assertNaNPreActivationStaysNaN(Backend backend, Activation activation, int outputs,
                                                      TestRandom random) {
        String where = activation + " with " + outputs + " columns";
        DenseShape shape = new DenseShape(3, 1, outputs);
        int n = 3 * outputs;
        float[] product = random.normals(n, 1.0);
        float[] bias = random.normals(outputs, 0.5);
        int[] nan = {0, outputs + 3, n - 1};
        for (int i : nan) {
            product[i] = Float.NaN;
        }
        float[] dY = random.normals(n, 1.0);
        product[4] = -5f - Math.abs(bias[4]); // pre-activation below 0: ReLU's derivative is 0 there
        dY[4] = Float.NaN;
        // The reference layer's arithmetic element by element (its GEMM would spread a NaN input across the row):
        // pre = x W^T + b in double, rounded once; y = act(pre); dPre = dY * act'(pre).
        float[] y = new float[n];
        float[] dPre = new float[n];
        for (int i = 0; i < n; i++) {
            double pre = (double) product[i] + bias[i % outputs];
            y[i] = (float) activation.apply(pre);
            dPre[i] = (float) (dY[i] * activation.derivative((float) pre));
        }

        Floats gpre = upload(backend, product);
        Floats gy = activation == Activation.IDENTITY ? gpre : backend.allocateFloats(n);
        backend.biasActivation(shape, upload(backend, bias), activation, gpre, gy);
        float[] out = download(backend, gy);
        for (int i : nan) {
            assertTrue(Float.isNaN(out[i]), random.tag() + ": " + where + ": act(NaN) = " + out[i]);
        }
        assertSameOrBothNaN(y, out, where + ": output", random);
        Floats gdPre = backend.allocateFloats(n);
        backend.activationBackward(shape, activation, gpre, upload(backend, dY), gdPre);
        assertSameOrBothNaN(dPre, download(backend, gdPre), where + ": dPre", random);
    }
}
