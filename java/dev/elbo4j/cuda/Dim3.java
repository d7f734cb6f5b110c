package dev.elbo4j.cuda;

/**
 * A launch grid or block shape; every dimension is at least 1.
 *
 * @param x extent in x
 * @param y extent in y
 * @param z extent in z
 */
public record Dim3(int x, int y, int z) {
    /**
     * Checks the extents.
     *
     * @throws IllegalArgumentException when a dimension is less than 1
     */
    public Dim3 {
        if (x < 1 || y < 1 || z < 1) {
            throw new IllegalArgumentException("launch dimensions must be at least 1, got " + x + "x" + y + "x" + z);
        }
    }

    /** A one-dimensional shape: {@code (x, 1, 1)}. */
    public static Dim3 of(int x) {
        return new Dim3(x, 1, 1);
    }

    /** x * y * z, as a long (it can exceed an int for grids). */
    public long volume() {
        return (long) x * y * z;
    }

    @Override
    public String toString() {
        return x + "x" + y + "x" + z;
    }
}
