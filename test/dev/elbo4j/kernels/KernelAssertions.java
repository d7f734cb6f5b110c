package dev.elbo4j.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.DeviceBuffer;

/**
 * The contract's tolerances against the CPU reference ({@code docs/numerical-contract.md}, "Tolerances"), and
 * device-buffer helpers for the kernel tests.
 * <ul>
 *   <li>elementwise outputs: {@code |gpu - ref| <= 1e-5 |ref| + 1e-6};</li>
 *   <li>sums over a row: {@code |gpu - ref| <= 1e-5 sum|term| + 1e-5};</li>
 *   <li>a NaN or infinity where the reference is finite fails (so does an element the kernel left at its NaN
 *       poison), and where the reference is not finite the kernel must give the same value.</li>
 * </ul>
 */
final class KernelAssertions {
    static final double RELATIVE = 1e-5;
    static final double ELEMENT_ABSOLUTE = 1e-6;
    static final double SUM_ABSOLUTE = 1e-5;
    /** Failures listed in a message before "...". */
    private static final int SHOWN = 5;

    private KernelAssertions() {
    }

    /** Elementwise tolerance over all of {@code actual} and {@code expected} (equal lengths). */
    static void assertElementwise(String what, float[] actual, float[] expected) {
        assertEquals(expected.length, actual.length, what + ": length");
        StringBuilder failures = new StringBuilder();
        int failed = 0;
        for (int i = 0; i < expected.length; i++) {
            double tolerance = RELATIVE * Math.abs(expected[i]) + ELEMENT_ABSOLUTE;
            if (!close(actual[i], expected[i], tolerance)) {
                if (failed++ < SHOWN) {
                    failures.append(String.format("%n  [%d] gpu %s, reference %s, |diff| %.3g > %.3g", i,
                            actual[i], expected[i], Math.abs((double) actual[i] - expected[i]), tolerance));
                }
            }
        }
        if (failed > 0) {
            fail(what + ": " + failed + " of " + expected.length + " elements outside 1e-5 |ref| + 1e-6:" + failures
                    + (failed > SHOWN ? "\n  ..." : ""));
        }
    }

    /** Row-sum tolerance: {@code sumAbsTerms[r]} is the sum of the magnitudes of the terms behind row r. */
    static void assertRowSums(String what, float[] actual, float[] expected, double[] sumAbsTerms) {
        assertEquals(expected.length, actual.length, what + ": length");
        assertEquals(expected.length, sumAbsTerms.length, what + ": term magnitudes");
        StringBuilder failures = new StringBuilder();
        int failed = 0;
        for (int r = 0; r < expected.length; r++) {
            double tolerance = RELATIVE * sumAbsTerms[r] + SUM_ABSOLUTE;
            if (!close(actual[r], expected[r], tolerance)) {
                if (failed++ < SHOWN) {
                    failures.append(String.format("%n  row %d: gpu %s, reference %s, |diff| %.3g > %.3g", r,
                            actual[r], expected[r], Math.abs((double) actual[r] - expected[r]), tolerance));
                }
            }
        }
        if (failed > 0) {
            fail(what + ": " + failed + " of " + expected.length + " rows outside 1e-5 sum|term| + 1e-5:" + failures
                    + (failed > SHOWN ? "\n  ..." : ""));
        }
    }

    /** Same bits in every element (NaN payloads included). */
    static void assertBitIdentical(String what, float[] first, float[] second) {
        assertEquals(first.length, second.length, what + ": length");
        for (int i = 0; i < first.length; i++) {
            if (Float.floatToRawIntBits(first[i]) != Float.floatToRawIntBits(second[i])) {
                fail(what + ": run 1 and run 2 differ at [" + i + "]: " + first[i] + " vs " + second[i]);
            }
        }
    }

    /** Every element is still NaN: the kernel did not run (or did not write there). */
    static void assertStillPoisoned(String what, float[] values) {
        for (int i = 0; i < values.length; i++) {
            if (!Float.isNaN(values[i])) {
                fail(what + "[" + i + "] = " + values[i] + ": written although the call was refused");
            }
        }
    }

    private static boolean close(float actual, float expected, double tolerance) {
        if (!Float.isFinite(expected)) {
            return Float.floatToIntBits(actual) == Float.floatToIntBits(expected);
        }
        return Float.isFinite(actual) && Math.abs((double) actual - expected) <= tolerance;
    }

    // ---- device buffers ----

    /** A device copy of {@code values}. */
    static DeviceBuffer upload(CudaContext cuda, float[] values) {
        DeviceBuffer buffer = cuda.allocateFloats(values.length);
        buffer.copyFrom(values);
        return buffer;
    }

    /** A device copy of {@code values}. */
    static DeviceBuffer upload(CudaContext cuda, byte[] values) {
        DeviceBuffer buffer = cuda.allocate(values.length);
        buffer.copyFrom(values);
        return buffer;
    }

    /** A device buffer of {@code count} floats, all NaN: elements a kernel fails to write stay NaN. */
    static DeviceBuffer poisoned(CudaContext cuda, long count) {
        DeviceBuffer buffer = cuda.allocateFloats(count);
        buffer.fillFloats(Float.NaN);
        return buffer;
    }

    /** {@code count} NaNs. */
    static float[] nans(int count) {
        float[] out = new float[count];
        Arrays.fill(out, Float.NaN);
        return out;
    }

    /** "K x B x D = 2 x 3 x 783". */
    static String shape(String symbols, int... dims) {
        return symbols + " = " + LaunchChecks.render(dims);
    }
}
