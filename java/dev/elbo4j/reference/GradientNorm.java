package dev.elbo4j.reference;

import java.util.Objects;

/**
 * The global L2 norm of a flat gradient, {@code sqrt(sum g^2)}, accumulated in double
 * (contract, "The gradient norm and the guard").
 */
public final class GradientNorm {

    private GradientNorm() {
    }

    /** {@code sqrt(sum_n g[n]^2)}: NaN when any element is NaN, infinite when any is infinite. */
    public static double l2(float[] gradients) {
        Objects.requireNonNull(gradients, "gradients");
        double sum = 0;
        for (float g : gradients) {
            sum += (double) g * g;
        }
        return Math.sqrt(sum);
    }
}
