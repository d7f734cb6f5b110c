package dev.elbo4j.nn;

/**
 * Adam's hyperparameters, with PyTorch's meaning (torch.optim.Adam and AdamW):
 * <pre>
 *   g = gradScale * grad (+ weightDecay * p, Adam only)
 *   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
 *   p = p (1 - learningRate * weightDecay)                  (AdamW only: decoupled weight decay)
 *   p = p - (learningRate / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon)
 * </pre>
 * with t the 1-based step and {@code gradScale} the clipping factor {@code min(1, maxGradNorm / (norm + 1e-6))}
 * of torch.nn.utils.clip_grad_norm_ (1 when {@code maxGradNorm} is infinite).
 *
 * @param learningRate          step size, positive and finite
 * @param beta1                 first-moment decay, in [0, 1)
 * @param beta2                 second-moment decay, in [0, 1)
 * @param epsilon               added to the denominator, positive and finite
 * @param weightDecay           L2 penalty (Adam) or decoupled decay (AdamW), at least 0 and finite
 * @param decoupledWeightDecay  true: AdamW; false: Adam
 * @param maxGradNorm           global gradient-norm clipping threshold, positive; {@code +Infinity}: no clipping
 */
public record AdamSettings(float learningRate, float beta1, float beta2, float epsilon, float weightDecay,
                           boolean decoupledWeightDecay, float maxGradNorm) {

    /** Checks every setting, naming the one out of range. */
    public AdamSettings {
        if (!(learningRate > 0) || Float.isInfinite(learningRate)) {
            throw new IllegalArgumentException("the learning rate must be positive and finite but is " + learningRate);
        }
        if (!(beta1 >= 0 && beta1 < 1)) {
            throw new IllegalArgumentException("beta1 must lie in [0, 1) but is " + beta1);
        }
        if (!(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("beta2 must lie in [0, 1) but is " + beta2);
        }
        if (!(epsilon > 0) || Float.isInfinite(epsilon)) {
            throw new IllegalArgumentException("epsilon must be positive and finite but is " + epsilon);
        }
        if (!(weightDecay >= 0) || Float.isInfinite(weightDecay)) {
            throw new IllegalArgumentException("the weight decay must be at least 0 and finite but is " + weightDecay);
        }
        if (!(maxGradNorm > 0)) {
            throw new IllegalArgumentException("the gradient-norm clipping threshold must be positive (Infinity: no "
                    + "clipping) but is " + maxGradNorm);
        }
    }

    /** PyTorch's Adam defaults: learning rate 1e-3, betas (0.9, 0.999), epsilon 1e-8, no decay, no clipping. */
    public static AdamSettings defaults() {
        return new AdamSettings(1e-3f, 0.9f, 0.999f, 1e-8f, 0f, false, Float.POSITIVE_INFINITY);
    }

    /** These settings with another learning rate. */
    public AdamSettings withLearningRate(float learningRate) {
        return new AdamSettings(learningRate, beta1, beta2, epsilon, weightDecay, decoupledWeightDecay, maxGradNorm);
    }

    /** These settings with weight decay, decoupled (AdamW) or not (Adam's L2 penalty). */
    public AdamSettings withWeightDecay(float weightDecay, boolean decoupled) {
        return new AdamSettings(learningRate, beta1, beta2, epsilon, weightDecay, decoupled, maxGradNorm);
    }

    /** These settings with global gradient-norm clipping at {@code maxGradNorm}. */
    public AdamSettings withMaxGradNorm(float maxGradNorm) {
        return new AdamSettings(learningRate, beta1, beta2, epsilon, weightDecay, decoupledWeightDecay, maxGradNorm);
    }

    /** Whether gradients are clipped. */
    public boolean clips() {
        return maxGradNorm != Float.POSITIVE_INFINITY;
    }
}
