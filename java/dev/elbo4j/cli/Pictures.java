package dev.elbo4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

import dev.elbo4j.data.Idx;
import dev.elbo4j.nn.Evaluator;
import dev.elbo4j.nn.Vae;

/**
 * The pictures of a model, as {@link ImageGrid} PNGs at twice the image size: test images beside their
 * reconstructions, decoded prior samples, and decodings along latent directions.
 */
final class Pictures {
    /** Pixels per image pixel: 28 x 28 images become 56 x 56, readable at 1x. */
    static final int SCALE = 2;
    /** Prior samples in samples.png (8 x 8). */
    static final int SAMPLE_COUNT = 64;
    /** Test images in reconstructions.png, each beside its reconstruction (8 pairs a row, 4 rows). */
    static final int RECONSTRUCTION_COUNT = 32;
    /** Values per latent direction in a traversal: z from -3 to 3 (prior standard deviations). */
    static final int TRAVERSAL_STEPS = 11;
    static final double TRAVERSAL_RANGE = 3.0;
    /** Rows of a one-dimension traversal, each from another prior sample. */
    static final int TRAVERSAL_ROWS = 8;

    private Pictures() {
    }

    /** The first {@value #RECONSTRUCTION_COUNT} test images (fewer if there are fewer), each followed by its reconstruction. */
    static void reconstructions(Vae vae, Idx.Images images, Path file) throws IOException {
        int count = Math.min(RECONSTRUCTION_COUNT, images.count());
        int dims = images.pixelsPerImage();
        byte[] pixels = Arrays.copyOf(images.pixels(), count * dims);
        float[] decoded = Evaluator.reconstruct(vae, pixels, count);
        float[][] cells = new float[2 * count][];
        for (int n = 0; n < count; n++) {
            float[] original = new float[dims];
            for (int d = 0; d < dims; d++) {
                original[d] = (pixels[n * dims + d] & 0xFF) / 255f;
            }
            cells[2 * n] = original;
            cells[2 * n + 1] = Arrays.copyOfRange(decoded, n * dims, (n + 1) * dims);
        }
        grid(images.rows(), images.columns(), 16).write(cells, file);
    }

    /** {@code count} decoded samples from the prior (Philox normals of {@code seed}). */
    static void samples(Vae vae, int count, long seed, Path file, int imageRows, int imageColumns)
            throws IOException {
        float[] decoded = Evaluator.sample(vae, count, seed);
        grid(imageRows, imageColumns, (int) Math.ceil(Math.sqrt(count))).write(split(decoded, count), file);
    }

    /**
     * Decodings along the latent space: for {@code dimension} null and L = 2, the 2-d grid of z over
     * [-3, 3]^2; otherwise one row per prior sample ({@value #TRAVERSAL_ROWS} rows of a fixed seed) with z_dimension
     * swept over [-3, 3] in {@value #TRAVERSAL_STEPS} steps.
     */
    static void traversal(Vae vae, Integer dimension, long seed, Path file, int imageRows, int imageColumns)
            throws IOException {
        int latent = vae.spec().latent();
        float[] z;
        int count;
        if (dimension == null) {
            if (latent != 2) {
                throw new IllegalArgumentException("a traversal without a dimension needs L = 2, not " + latent);
            }
            count = TRAVERSAL_STEPS * TRAVERSAL_STEPS;
            z = new float[count * 2];
            for (int row = 0; row < TRAVERSAL_STEPS; row++) {
                for (int column = 0; column < TRAVERSAL_STEPS; column++) {
                    int n = row * TRAVERSAL_STEPS + column;
                    z[2 * n] = (float) sweep(column);
                    z[2 * n + 1] = (float) -sweep(row); // up is positive, as on a plot
                }
            }
        } else {
            count = TRAVERSAL_ROWS * TRAVERSAL_STEPS;
            java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
            z = new float[count * latent];
            for (int row = 0; row < TRAVERSAL_ROWS; row++) {
                float[] base = new float[latent];
                for (int l = 0; l < latent; l++) {
                    base[l] = (float) random.nextGaussian();
                }
                for (int column = 0; column < TRAVERSAL_STEPS; column++) {
                    int n = row * TRAVERSAL_STEPS + column;
                    System.arraycopy(base, 0, z, n * latent, latent);
                    z[n * latent + dimension] = (float) sweep(column);
                }
            }
        }
        grid(imageRows, imageColumns, TRAVERSAL_STEPS).write(split(Evaluator.decode(vae, z, count), count), file);
    }

    private static double sweep(int step) {
        return -TRAVERSAL_RANGE + 2 * TRAVERSAL_RANGE * step / (TRAVERSAL_STEPS - 1);
    }

    private static float[][] split(float[] flat, int count) {
        int dims = flat.length / count;
        float[][] images = new float[count][];
        for (int n = 0; n < count; n++) {
            images[n] = Arrays.copyOfRange(flat, n * dims, (n + 1) * dims);
        }
        return images;
    }

    /**
     * The height and width of the model's images, which a checkpoint does not record: square when D is a square
     * (784 = 28 x 28), else one row of D pixels.
     */
    static int[] imageShape(int inputs) {
        int side = (int) Math.round(Math.sqrt(inputs));
        return side * side == inputs ? new int[] {side, side} : new int[] {1, inputs};
    }

    private static ImageGrid grid(int imageRows, int imageColumns, int columns) {
        return new ImageGrid(imageRows, imageColumns, columns, SCALE);
    }
}
