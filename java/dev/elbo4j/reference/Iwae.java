package dev.elbo4j.reference;

import java.util.Objects;

import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.SampleShape;

/**
 * The importance-weighted bound (contract, "The importance-weighted bound"). With K samples
 * {@code z_k = mu + sigma * eps_k} of each row:
 * <pre>
 *   log w_k = log p(x | z_k) + log p(z_k) - log q(z_k | x)
 *   log p(z)     = -0.5 sum_l (z_l^2 + log 2 pi)
 *   log q(z | x) = -0.5 sum_l (eps_l^2 + log 2 pi + logvar_l)
 *   IWAE_K       = logsumexp_k(log w_k) - log K
 * </pre>
 * Layouts as in {@link Reparameterization}: log weights and decoder log-likelihoods are K x B (sample k of row b
 * at {@code k*B + b}), the order in which a decoder sees the K x B latent rows of {@code z}.
 */
public final class Iwae {

    private static final double LOG_TWO_PI = Math.log(2.0 * Math.PI);

    private Iwae() {
    }

    /**
     * The log importance weights. The noise {@code eps} and the samples {@code z} are regenerated exactly as
     * {@link Reparameterization#forward} makes them under the same {@code (seed, offset)} (z rounded to float32,
     * as the decoder saw it).
     *
     * @param shape      K, B, L and the row stride of {@code muLogvar}
     * @param muLogvar   B x rowStride, [mu | logvar] in columns [0, 2L)
     * @param logpx      K x B, log p(x_b | z_kb) from the decoder
     * @param seed       the forward's Philox key
     * @param offset     the forward's Philox counter word 2
     * @param logWeights output, K x B, in nats
     */
    public static void logWeights(LatentShape shape, float[] muLogvar, float[] logpx, long seed, int offset,
                                  float[] logWeights) {
        Reparameterization.checkEncoderOutput(shape, muLogvar);
        int rows = shape.batch();
        int latent = shape.latent();
        int samples = shape.samples();
        int rowStride = shape.rowStride();
        Check.shape(logpx, "logpx", "K x B", samples, rows);
        Check.shape(logWeights, "logWeights", "K x B", samples, rows);
        Rows.forEach(rows, (long) samples * latent, b -> {
            float[] eps = new float[latent];
            for (int k = 0; k < samples; k++) {
                Philox.normals(seed, offset, Philox.STREAM_REPARAMETERIZATION,
                        Reparameterization.noiseIndex(k, b, 0, rows, latent), eps, 0, latent);
                double logPrior = 0;
                double logPosterior = 0;
                for (int l = 0; l < latent; l++) {
                    float mu = muLogvar[b * rowStride + l];
                    float logvar = muLogvar[b * rowStride + latent + l];
                    double z = Reparameterization.sampleOf(mu, logvar, eps[l]);
                    logPrior += z * z + LOG_TWO_PI;
                    logPosterior += (double) eps[l] * eps[l] + LOG_TWO_PI + logvar;
                }
                logWeights[k * rows + b] = (float) ((double) logpx[k * rows + b] - 0.5 * logPrior + 0.5 * logPosterior);
            }
        });
    }

    /**
     * IWAE_K per row: {@code logsumexp_k(log w_k) - log K}, the largest weight subtracted before exponentiating,
     * so log weights of any magnitude (e.g. near -1e4) neither underflow nor overflow.
     *
     * @param shape      K, B
     * @param logWeights K x B
     * @param bound      output, B, in nats
     */
    public static void bound(SampleShape shape, float[] logWeights, float[] bound) {
        Objects.requireNonNull(shape, "shape");
        int samples = shape.samples();
        int rows = shape.batch();
        Check.shape(logWeights, "logWeights", "K x B", samples, rows);
        Check.shape(bound, "bound", "B", rows);
        for (int b = 0; b < rows; b++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < samples; k++) {
                max = Math.max(max, logWeights[k * rows + b]);
            }
            if (Double.isInfinite(max) || Double.isNaN(max)) {
                // All weights zero, an infinite weight or a NaN: no finite shift exists and max is the answer.
                bound[b] = (float) max;
                continue;
            }
            double sum = 0;
            for (int k = 0; k < samples; k++) {
                sum += Math.exp(logWeights[k * rows + b] - max);
            }
            bound[b] = (float) (max + Math.log(sum) - Math.log(samples));
        }
    }

    /**
     * The bound's gap, the mean over rows of {@code IWAE_K - ELBO}: an estimate of KL(q(z|x) || p(z|x)), the
     * slack of the ELBO, in nats.
     *
     * @param rows B rows, one value each ({@code SampleShape.of(B)})
     * @param iwae B, IWAE_K per row
     * @param elbo B, ELBO per row
     */
    public static double gap(SampleShape rows, float[] iwae, float[] elbo) {
        Check.oneSamplePerRow(rows, "Iwae.gap");
        int batch = rows.batch();
        Check.shape(iwae, "iwae", "B", batch);
        Check.shape(elbo, "elbo", "B", batch);
        double sum = 0;
        for (int b = 0; b < batch; b++) {
            sum += (double) iwae[b] - elbo[b];
        }
        return sum / batch;
    }
}
