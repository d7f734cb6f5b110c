package dev.elbo4j.reference;

import java.util.Objects;

import dev.elbo4j.shape.SampleShape;

/**
 * Argument checks shared by the reference: every message names the array, the shape it has and the shape it
 * must have, so a caller sees at once which dimension is off.
 */
final class Check {

    private Check() {
    }

    /** Throws unless {@code value >= 1}. */
    static void positive(int value, String name) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " must be at least 1 but is " + value);
        }
    }

    /** Throws unless a per-row function (K = 1) got a shape of one sample per row. */
    static void oneSamplePerRow(SampleShape rows, String function) {
        Objects.requireNonNull(rows, "rows");
        if (rows.samples() != 1) {
            throw new IllegalArgumentException(function + " takes one value per row (K = 1), but the shape is " + rows
                    + "; use SampleShape.of(B)");
        }
    }

    /**
     * Throws unless {@code array} holds exactly the product of {@code dims} elements.
     *
     * @param name      the array's name in the message ("x", "logits", ...)
     * @param dimNames  the shape in symbols ("B x D")
     * @param dims      the shape in numbers (4, 784)
     */
    static void shape(float[] array, String name, String dimNames, int... dims) {
        Objects.requireNonNull(array, name);
        shape(array.length, name, dimNames, dims);
    }

    /** {@link #shape(float[], String, String, int...)} for byte arrays. */
    static void shape(byte[] array, String name, String dimNames, int... dims) {
        Objects.requireNonNull(array, name);
        shape(array.length, name, dimNames, dims);
    }

    static void shape(int length, String name, String dimNames, int... dims) {
        long expected = product(name, dims);
        if (length != expected) {
            throw new IllegalArgumentException(name + " " + describe(length, dims) + " but must be " + dimNames
                    + " = " + render(dims) + " (" + expected + " elements)");
        }
    }

    /** The number of elements of a shape; throws if it cannot be a Java array. */
    static long product(String name, int... dims) {
        long product = 1;
        for (int dim : dims) {
            product *= dim;
            if (product > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException(name + " would be " + render(dims)
                        + ", more elements than a Java array holds");
            }
        }
        return product;
    }

    /**
     * "is 4 x 783 (3132 elements)" when exactly one dimension of the expected shape can change to give the
     * length, else (no such dimension, or an ambiguous one) "has 3132 elements".
     */
    private static String describe(int length, int[] dims) {
        String onlyFit = null;
        if (dims.length >= 2) {
            for (int free = 0; free < dims.length; free++) {
                long others = 1;
                for (int i = 0; i < dims.length; i++) {
                    if (i != free) {
                        others *= dims[i];
                    }
                }
                if (others > 0 && length % others == 0) {
                    if (onlyFit != null) {
                        return "has " + length + " elements";
                    }
                    int[] actual = dims.clone();
                    actual[free] = (int) (length / others);
                    onlyFit = render(actual);
                }
            }
        }
        return onlyFit == null ? "has " + length + " elements" : "is " + onlyFit + " (" + length + " elements)";
    }

    private static String render(int[] dims) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < dims.length; i++) {
            text.append(i == 0 ? "" : " x ").append(dims[i]);
        }
        return text.toString();
    }
}
