package dev.elbo4j.reference;

import java.util.Objects;

import dev.elbo4j.shape.LikelihoodShape;

/**
 * The data {@code x} (B x D, row-major) that a Bernoulli decoder is scored against, in one of the forms a kernel
 * reads: floats in [0, 1], unsigned byte pixels ({@code value / 255}), either one optionally binarized on the
 * fly (contract, "Dynamic binarization"). The arrays are read, never written.
 */
public sealed interface Targets {

    /** Floats in [0, 1], B x D. */
    static Targets values(float[] x) {
        return new Values(x);
    }

    /** Unsigned 8-bit pixels, B x D; pixel {@code p} means {@code x = (p & 0xFF) / 255f} (a float32 division). */
    static Targets pixels(byte[] pixels) {
        return new Pixels(pixels);
    }

    /**
     * These targets, dynamically binarized: {@code x[b][d]} becomes {@code 1 if u <= x[b][d] else 0} with
     * {@code u} the {@link Philox} uniform of element {@code n = b*D + d}, stream
     * {@link Philox#STREAM_BINARIZATION}, under {@code (seed, offset)}.
     */
    default Targets binarized(long seed, int offset) {
        return new Binarized(this, seed, offset);
    }

    /**
     * Checks that these targets are B x D ({@code shape}'s batch and dims) and every value lies in [0, 1].
     *
     * @throws IllegalArgumentException naming the shapes, or the first element outside [0, 1]
     */
    void validate(LikelihoodShape shape);

    /** Writes row {@code b} of x (D values, after binarization if any) into {@code out[0, D)}. */
    void row(int b, int dims, float[] out);

    /** Floats in [0, 1]. */
    record Values(float[] x) implements Targets {
        /** Keeps {@code x}, not a copy. */
        public Values {
            Objects.requireNonNull(x, "x");
        }

        @Override
        public void validate(LikelihoodShape shape) {
            int dims = shape.dims();
            Check.shape(x, "x", "B x D", shape.batch(), dims);
            for (int i = 0; i < x.length; i++) {
                if (!(x[i] >= 0f && x[i] <= 1f)) {
                    throw new IllegalArgumentException("x[" + (i / dims) + "][" + (i % dims) + "] = " + x[i]
                            + " is outside [0, 1]");
                }
            }
        }

        @Override
        public void row(int b, int dims, float[] out) {
            System.arraycopy(x, b * dims, out, 0, dims);
        }
    }

    /** Unsigned pixels, {@code x = p / 255}. */
    record Pixels(byte[] pixels) implements Targets {
        /** Keeps {@code pixels}, not a copy. */
        public Pixels {
            Objects.requireNonNull(pixels, "pixels");
        }

        @Override
        public void validate(LikelihoodShape shape) {
            Check.shape(pixels, "x (pixels)", "B x D", shape.batch(), shape.dims());
        }

        @Override
        public void row(int b, int dims, float[] out) {
            for (int d = 0; d < dims; d++) {
                out[d] = (pixels[b * dims + d] & 0xFF) / 255f;
            }
        }
    }

    /** {@code source} binarized with stream-1 uniforms under {@code (seed, offset)}. */
    record Binarized(Targets source, long seed, int offset) implements Targets {
        /** Binarizes {@code source} as it reads it; the source is not copied. */
        public Binarized {
            Objects.requireNonNull(source, "source");
        }

        @Override
        public void validate(LikelihoodShape shape) {
            source.validate(shape);
        }

        @Override
        public void row(int b, int dims, float[] out) {
            source.row(b, dims, out);
            float[] uniforms = new float[dims];
            Philox.uniforms(seed, offset, Philox.STREAM_BINARIZATION, (long) b * dims, uniforms);
            for (int d = 0; d < dims; d++) {
                out[d] = uniforms[d] <= out[d] ? 1f : 0f;
            }
        }
    }
}
