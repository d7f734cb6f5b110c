package dev.elbo4j.reference;

import java.util.Objects;

import dev.elbo4j.shape.LatentShape;

/**
 * The reparameterized Gaussian posterior {@code q(z|x) = N(mu, diag(exp(logvar)))} and its KL divergence to the
 * prior N(0, I) (contract, "Reparameterization and the Gaussian KL").
 *
 * <p>Layout shared by every method, sized by one {@link LatentShape} (K, B, L, rowStride):
 * <ul>
 *   <li>{@code muLogvar}: the encoder's output, B rows of {@code rowStride} floats (B x rowStride, row-major);
 *       {@code mu} is columns [0, L), {@code logvar} columns [L, 2L); columns from 2L on are neither read nor
 *       written. {@code rowStride >= 2L}.</li>
 *   <li>{@code z}, {@code dz}: K x B x L, sample k of row b at {@code (k*B + b)*L + l}.</li>
 *   <li>The noise {@code eps[k][b][l]} is {@link Philox} element {@code n = (k*B + b)*L + l} of stream
 *       {@link Philox#STREAM_REPARAMETERIZATION} under {@code (seed, offset)}.</li>
 * </ul>
 * Inputs are float32, arithmetic is double, and each output element is rounded once to float32:
 * {@code z = (float) (mu + exp(0.5 * logvar) * eps)} with {@code eps} the float32 normal.
 */
public final class Reparameterization {

    private Reparameterization() {
    }

    /**
     * Forward: K samples per row and the closed-form KL per row.
     *
     * @param shape    K, B, L and the row stride of {@code muLogvar}
     * @param muLogvar B x rowStride, [mu | logvar] in columns [0, 2L)
     * @param seed     Philox key
     * @param offset   Philox counter word 2 (the caller's step counter)
     * @param z        output, K x B x L: {@code z[k][b][l] = mu[b][l] + exp(0.5 logvar[b][l]) eps[k][b][l]}
     * @param kl       output, B: {@code KL_b = 0.5 sum_l (mu^2 + exp(logvar) - 1 - logvar)} in nats
     */
    public static void forward(LatentShape shape, float[] muLogvar, long seed, int offset, float[] z, float[] kl) {
        checkEncoderOutput(shape, muLogvar);
        Check.shape(z, "z", "K x B x L", shape.samples(), shape.batch(), shape.latent());
        Check.shape(kl, "kl", "B", shape.batch());
        sample(shape, muLogvar, seed, offset, z);
        klPerRow(muLogvar, shape.batch(), shape.latent(), shape.rowStride(), kl);
    }

    /**
     * The closed-form KL per row alone (no sampling; K plays no part).
     *
     * @param shape    B, L and the row stride of {@code muLogvar}
     * @param muLogvar B x rowStride, [mu | logvar] in columns [0, 2L)
     * @param kl       output, B, in nats
     */
    public static void kl(LatentShape shape, float[] muLogvar, float[] kl) {
        checkEncoderOutput(shape, muLogvar);
        Check.shape(kl, "kl", "B", shape.batch());
        klPerRow(muLogvar, shape.batch(), shape.latent(), shape.rowStride(), kl);
    }

    /**
     * Backward with the noise regenerated from Philox (the same {@code seed, offset} as the forward):
     * <pre>
     *   dmu[b][l]     = sum_k dz[k][b][l]                        + beta * mu * rowWeight
     *   dlogvar[b][l] = 0.5 * sum_k dz[k][b][l] * sigma * eps[k] + beta * 0.5 * (exp(logvar) - 1) * rowWeight
     * </pre>
     * {@code dz} is dLoss/dz as the decoder's backward delivers it (already carrying its row weight, and 1/K when
     * the loss averages the samples); {@code rowWeight} is the KL term's weight of a row in the loss (1/B for a
     * batch mean) and {@code beta} the KL weight (1 for the ELBO).
     *
     * @param shape     K, B, L and the row stride of {@code muLogvar} and {@code dMuLogvar}
     * @param muLogvar  B x rowStride
     * @param dz        K x B x L
     * @param dMuLogvar output, B x rowStride: columns [0, L) receive dmu, [L, 2L) dlogvar, the rest is untouched
     */
    public static void backward(LatentShape shape, float[] muLogvar, float[] dz, long seed, int offset, float beta,
                                float rowWeight, float[] dMuLogvar) {
        checkBackward(shape, muLogvar, dz, dMuLogvar);
        int rows = shape.batch();
        int latent = shape.latent();
        int samples = shape.samples();
        int rowStride = shape.rowStride();
        Rows.forEach(rows, (long) samples * latent, b -> {
            double[] sigmaEps = new double[samples * latent];
            float[] eps = new float[latent];
            for (int k = 0; k < samples; k++) {
                Philox.normals(seed, offset, Philox.STREAM_REPARAMETERIZATION, noiseIndex(k, b, 0, rows, latent),
                        eps, 0, latent);
                for (int l = 0; l < latent; l++) {
                    double sigma = Math.exp(0.5 * muLogvar[b * rowStride + latent + l]);
                    sigmaEps[k * latent + l] = sigma * eps[l];
                }
            }
            writeGradientRow(shape, muLogvar, dz, sigmaEps, beta, rowWeight, dMuLogvar, b);
        });
    }

    /**
     * Backward from the saved samples instead of the generator: {@code sigma * eps = z - mu}, otherwise as
     * {@link #backward}. The two agree up to the float32 rounding of the saved {@code z}.
     *
     * @param shape     K, B, L and the row stride of {@code muLogvar} and {@code dMuLogvar}
     * @param muLogvar  B x rowStride
     * @param z         K x B x L, the forward's samples
     * @param dz        K x B x L
     * @param dMuLogvar output, B x rowStride: columns [0, L) receive dmu, [L, 2L) dlogvar, the rest is untouched
     */
    public static void backwardFromSamples(LatentShape shape, float[] muLogvar, float[] z, float[] dz, float beta,
                                           float rowWeight, float[] dMuLogvar) {
        checkBackward(shape, muLogvar, dz, dMuLogvar);
        int rows = shape.batch();
        int latent = shape.latent();
        int samples = shape.samples();
        int rowStride = shape.rowStride();
        Check.shape(z, "z", "K x B x L", samples, rows, latent);
        Rows.forEach(rows, (long) samples * latent, b -> {
            double[] sigmaEps = new double[samples * latent];
            for (int k = 0; k < samples; k++) {
                for (int l = 0; l < latent; l++) {
                    sigmaEps[k * latent + l] = (double) z[(k * rows + b) * latent + l] - muLogvar[b * rowStride + l];
                }
            }
            writeGradientRow(shape, muLogvar, dz, sigmaEps, beta, rowWeight, dMuLogvar, b);
        });
    }

    /** The Philox element index of {@code eps[k][b][l]}: {@code (k*B + b)*L + l}, as an unsigned 64-bit value. */
    static long noiseIndex(int k, int b, int l, int rows, int latent) {
        return ((long) k * rows + b) * latent + l;
    }

    /** One sample, rounded once: {@code (float) (mu + exp(0.5 logvar) * eps)}. */
    static float sampleOf(float mu, float logvar, float eps) {
        return (float) (mu + Math.exp(0.5 * logvar) * eps);
    }

    /** Fills z (K x B x L) from the generator; arguments already checked. */
    static void sample(LatentShape shape, float[] muLogvar, long seed, int offset, float[] z) {
        int rows = shape.batch();
        int latent = shape.latent();
        int samples = shape.samples();
        int rowStride = shape.rowStride();
        Rows.forEach(rows, (long) samples * latent, b -> {
            float[] eps = new float[latent];
            for (int k = 0; k < samples; k++) {
                Philox.normals(seed, offset, Philox.STREAM_REPARAMETERIZATION, noiseIndex(k, b, 0, rows, latent),
                        eps, 0, latent);
                for (int l = 0; l < latent; l++) {
                    z[(k * rows + b) * latent + l] = sampleOf(muLogvar[b * rowStride + l],
                            muLogvar[b * rowStride + latent + l], eps[l]);
                }
            }
        });
    }

    private static void klPerRow(float[] muLogvar, int rows, int latent, int rowStride, float[] kl) {
        Rows.forEach(rows, latent, b -> {
            double sum = 0;
            for (int l = 0; l < latent; l++) {
                double mu = muLogvar[b * rowStride + l];
                double logvar = muLogvar[b * rowStride + latent + l];
                sum += mu * mu + Math.exp(logvar) - 1.0 - logvar;
            }
            kl[b] = (float) (0.5 * sum);
        });
    }

    /** Writes row b of d[mu | logvar] given {@code sigma * eps} of that row's K samples (K x L). */
    private static void writeGradientRow(LatentShape shape, float[] muLogvar, float[] dz, double[] sigmaEps,
                                         float beta, float rowWeight, float[] dMuLogvar, int b) {
        int rows = shape.batch();
        int latent = shape.latent();
        int rowStride = shape.rowStride();
        for (int l = 0; l < latent; l++) {
            double mu = muLogvar[b * rowStride + l];
            double logvar = muLogvar[b * rowStride + latent + l];
            double sumDz = 0;
            double sumDzSigmaEps = 0;
            for (int k = 0; k < shape.samples(); k++) {
                double g = dz[(k * rows + b) * latent + l];
                sumDz += g;
                sumDzSigmaEps += g * sigmaEps[k * latent + l];
            }
            double klWeight = (double) beta * rowWeight;
            dMuLogvar[b * rowStride + l] = (float) (sumDz + klWeight * mu);
            dMuLogvar[b * rowStride + latent + l] =
                    (float) (0.5 * sumDzSigmaEps + klWeight * 0.5 * (Math.exp(logvar) - 1.0));
        }
    }

    /** Checks {@code muLogvar} against B x rowStride. */
    static void checkEncoderOutput(LatentShape shape, float[] muLogvar) {
        Objects.requireNonNull(shape, "shape");
        Check.shape(muLogvar, "muLogvar", "B x rowStride", shape.batch(), shape.rowStride());
    }

    private static void checkBackward(LatentShape shape, float[] muLogvar, float[] dz, float[] dMuLogvar) {
        checkEncoderOutput(shape, muLogvar);
        Check.shape(dz, "dz", "K x B x L", shape.samples(), shape.batch(), shape.latent());
        Check.shape(dMuLogvar, "dMuLogvar", "B x rowStride", shape.batch(), shape.rowStride());
    }
}
