package dev.elbo4j.nn;

/**
 * What {@link Evaluator#evaluate} measured, in nats per data point.
 *
 * @param rows                  data points evaluated
 * @param elbo                  mean ELBO (beta = 1, one latent sample per point)
 * @param reconstruction        mean log p(x | z) of that sample
 * @param kl                    mean KL(q(z|x) || p(z))
 * @param klPerDimension        the mean KL of each latent dimension (L values, summing to {@code kl} up to rounding)
 * @param posteriorMeanVariance the variance across the data of each dimension's posterior mean
 * @param activeUnits           dimensions whose posterior-mean variance exceeds
 *                              {@value Evaluator#ACTIVE_UNIT_THRESHOLD} (Burda et al.)
 * @param iwaeSamples           K of the importance-weighted estimate (0: not computed)
 * @param iwaeLogPx             mean IWAE-K estimate of log p(x) (NaN when not computed)
 * @param gap                   {@code iwaeLogPx - elbo}: the estimated slack of the bound (NaN when not computed)
 * @param elboSeconds           time of the ELBO pass
 * @param iwaeSeconds           time of the IWAE passes
 */
public record Evaluation(int rows, double elbo, double reconstruction, double kl, double[] klPerDimension,
                         double[] posteriorMeanVariance, int activeUnits, int iwaeSamples, double iwaeLogPx,
                         double gap, double elboSeconds, double iwaeSeconds) {
}
