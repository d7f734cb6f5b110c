package dev.elbo4j.reference;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.DoubleUnaryOperator;

/** Central finite differences in double, and the check of an analytic gradient against one. */
final class FiniteDifference {

    private FiniteDifference() {
    }

    /** {@code (f(at + h) - f(at - h)) / 2h}. */
    static double central(DoubleUnaryOperator f, double at, double h) {
        return (f.applyAsDouble(at + h) - f.applyAsDouble(at - h)) / (2 * h);
    }

    /**
     * Asserts {@code |analytic - fd| <= 2e-6 |fd| + noise + floor}, where {@code noise = 16 ulp(magnitude) / h}
     * bounds the cancellation error of the difference quotient ({@code magnitude}: the sum of the absolute
     * values of the terms that make up f) and {@code floor} absorbs the O(h^2) truncation of gradients that
     * vanish. Losses that are sums of per-element terms are best differenced through the terms that depend on
     * the perturbed input alone (the rest is a constant with zero derivative), so the noise scales with those
     * terms and not with the whole row.
     */
    static void assertGradient(String what, double analytic, DoubleUnaryOperator f, double at, double h,
                               double magnitude, double floor) {
        double fd = central(f, at, h);
        double noise = 16 * Math.ulp(magnitude) / h;
        double tolerance = 2e-6 * Math.abs(fd) + noise + floor;
        assertTrue(Math.abs(analytic - fd) <= tolerance, () -> what + ": analytic " + analytic
                + " but central difference " + fd + " at " + at + " (h " + h + ", tolerance " + tolerance + ")");
    }
}
