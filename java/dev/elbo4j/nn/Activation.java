package dev.elbo4j.nn;

/**
 * The elementwise nonlinearity of a hidden layer, as PyTorch defines it. {@link #derivative} takes the
 * pre-activation {@code a} (what the layer's backward keeps), so every function's gradient is exact. Every one
 * maps NaN to NaN, as PyTorch's do, and its derivative at NaN is PyTorch's (NaN for tanh and SiLU).
 */
public enum Activation {
    /** {@code a}: the output layers ({@code [mu | logvar]}, the decoder's logits or means). */
    IDENTITY {
        @Override
        public double apply(double a) {
            return a;
        }

        @Override
        public double derivative(double a) {
            return 1.0;
        }
    },
    /**
     * {@code max(a, 0)}, NaN for NaN as {@code torch.relu} (so a NaN weight reaches the loss and the step's guard);
     * the derivative is PyTorch's {@code a <= 0 ? 0 : 1}: 0 at 0, and 1 at NaN.
     */
    RELU {
        @Override
        public double apply(double a) {
            return a <= 0 ? 0.0 : a;
        }

        @Override
        public double derivative(double a) {
            return a <= 0 ? 0.0 : 1.0;
        }
    },
    /** {@code tanh(a)}. */
    TANH {
        @Override
        public double apply(double a) {
            return Math.tanh(a);
        }

        @Override
        public double derivative(double a) {
            double t = Math.tanh(a);
            return 1.0 - t * t;
        }
    },
    /**
     * {@code a} for {@code a > 0}, else {@code 0.01 a} (PyTorch's default negative slope): NaN for NaN, and the
     * derivative at NaN is 0.01, as PyTorch's {@code a > 0 ? 1 : 0.01}.
     */
    LEAKY_RELU {
        @Override
        public double apply(double a) {
            return a > 0 ? a : LEAKY_SLOPE * a;
        }

        @Override
        public double derivative(double a) {
            return a > 0 ? 1.0 : LEAKY_SLOPE;
        }
    },
    /** {@code a * sigmoid(a)} (also called swish). */
    SILU {
        @Override
        public double apply(double a) {
            return a * sigmoid(a);
        }

        @Override
        public double derivative(double a) {
            double s = sigmoid(a);
            return s * (1.0 + a * (1.0 - s));
        }
    };

    /** The slope of {@link #LEAKY_RELU} below 0. */
    public static final double LEAKY_SLOPE = 0.01;

    /** The function at the pre-activation {@code a}. */
    public abstract double apply(double a);

    /** Its derivative at the pre-activation {@code a}. */
    public abstract double derivative(double a);

    /** {@code 1 / (1 + e^-a)} without overflow for either sign. */
    private static double sigmoid(double a) {
        if (a >= 0) {
            return 1.0 / (1.0 + Math.exp(-a));
        }
        double e = Math.exp(a);
        return e / (1.0 + e);
    }
}
