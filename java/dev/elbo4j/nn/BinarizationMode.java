package dev.elbo4j.nn;

/** How pixel data in [0, 1] is turned into the targets of the likelihood (and the encoder's input). */
public enum BinarizationMode {
    /** The pixel values p / 255 as they are (the PyTorch example's setup). */
    NONE,
    /**
     * Binarized once, when the data is loaded: pixel {@code n} (row-major over the data set) becomes 1 when the
     * Philox uniform of element n, stream 1, offset {@link #STATIC_OFFSET}, under the model's seed is at most p / 255.
     */
    STATIC,
    /** Binarized afresh every step, inside the batch gather (spec, "Dynamic binarization"). */
    DYNAMIC;

    /** The Philox offset of static binarization: reserved, as no run reaches step 2^32 - 1. */
    public static final int STATIC_OFFSET = -1;
}
