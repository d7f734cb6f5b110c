package dev.elbo4j.reference;

/**
 * A Philox draw whose binarization uniform is exactly 1: seed 0, offset {@value #OFFSET}, stream 1, element
 * {@value #ELEMENT} (its word is 0xffffff9d, found by search). Where {@code 1 if u < x} turned even x = 1 into 0,
 * {@code 1 if u <= x} keeps it 1: the reference and kernel tests of the binarization pin this corner.
 */
public final class BinarizationCorner {
    public static final long SEED = 0;
    public static final int OFFSET = 4847881;
    public static final int ELEMENT = 1;

    private BinarizationCorner() {
    }
}
