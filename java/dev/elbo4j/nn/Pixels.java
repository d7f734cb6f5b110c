package dev.elbo4j.nn;

import dev.elbo4j.reference.Philox;

/** The data as a model of a given spec sees it in backend memory. */
final class Pixels {

    private Pixels() {
    }

    /**
     * {@code pixels} as they are, or binarized once for {@link BinarizationMode#STATIC}: pixel n (row-major over the
     * whole array) becomes 255 when the Philox uniform of element n, stream 1, offset
     * {@link BinarizationMode#STATIC_OFFSET}, key the spec's seed, is at most {@code p / 255}, else 0.
     */
    static byte[] prepare(byte[] pixels, VaeSpec spec) {
        if (spec.binarization() != BinarizationMode.STATIC) {
            return pixels;
        }
        byte[] binary = new byte[pixels.length];
        int[] words = new int[4];
        long seed = spec.seed();
        for (int n = 0; n < pixels.length; n++) {
            if ((n & 3) == 0) {
                Philox.block(n >>> 2, 0, BinarizationMode.STATIC_OFFSET, Philox.STREAM_BINARIZATION, (int) seed,
                        (int) (seed >>> 32), words);
            }
            float value = (pixels[n] & 0xFF) / 255f;
            binary[n] = Philox.uniform(words[n & 3]) <= value ? (byte) 255 : 0;
        }
        return binary;
    }
}
