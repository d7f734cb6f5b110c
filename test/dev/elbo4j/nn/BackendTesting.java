package dev.elbo4j.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.elbo4j.nn.Backend.Floats;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.DenseShape;

/** What the tests of each {@link Backend}'s operations share: host copies in and out, the NaN-aware comparison. */
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
