package dev.elbo4j.kernels;

/** How the data {@code x} (B x D) of a Bernoulli likelihood is stored on the device. */
public enum TargetFormat {
    /** float32 values in [0, 1]: 4 bytes per element. */
    FLOAT32(Float.BYTES),
    /** uint8 pixels {@code p}, read as {@code p / 255} (a float32 division): 1 byte per element. */
    PIXELS_U8(1);

    private final int bytesPerElement;

    TargetFormat(int bytesPerElement) {
        this.bytesPerElement = bytesPerElement;
    }

    /** Bytes per element of x. */
    public int bytesPerElement() {
        return bytesPerElement;
    }
}
