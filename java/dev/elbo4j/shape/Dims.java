package dev.elbo4j.shape;

/** Checks and exact products shared by the shape records. */
final class Dims {

    private Dims() {
    }

    /** Throws unless {@code value >= 1}, naming the dimension ("K (samples) must be at least 1 but is 0"). */
    static void positive(int value, String name) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " must be at least 1 but is " + value);
        }
    }

    /** The exact product of {@code dims}; refused (never wrapped) when it exceeds {@code Long.MAX_VALUE}. */
    static long product(String what, int... dims) {
        long product = 1;
        for (int dim : dims) {
            try {
                product = Math.multiplyExact(product, dim);
            } catch (ArithmeticException overflow) {
                throw new IllegalArgumentException(what + " = " + render(dims) + " has more than Long.MAX_VALUE elements");
            }
        }
        return product;
    }

    /** "2 x 3 x 4". */
    static String render(int... dims) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < dims.length; i++) {
            text.append(i == 0 ? "" : " x ").append(dims[i]);
        }
        return text.toString();
    }
}
