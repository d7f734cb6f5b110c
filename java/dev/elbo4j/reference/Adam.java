package dev.elbo4j.reference;

import java.util.Objects;

import dev.elbo4j.nn.AdamSettings;

/**
 * One Adam or AdamW step over flat parameter, gradient and moment arrays, with PyTorch's formulas (see
 * {@link AdamSettings}; contract, "Adam"). Arithmetic is double per element from the float32 inputs; the new
 * moment and parameter values are each rounded once to float32.
 */
public final class Adam {

    /** What torch.nn.utils.clip_grad_norm_ adds to the norm before dividing. */
    private static final double CLIP_EPSILON = 1e-6;

    private Adam() {
    }

    /**
     * The clipping factor for a global gradient norm: {@code min(1, maxGradNorm / (norm + 1e-6))}, or 1 when the
     * settings do not clip.
     */
    public static float clipScale(AdamSettings settings, double gradNorm) {
        Objects.requireNonNull(settings, "settings");
        if (!settings.clips()) {
            return 1f;
        }
        return (float) Math.min(1.0, settings.maxGradNorm() / (gradNorm + CLIP_EPSILON));
    }

    /**
     * Updates {@code params}, {@code m} and {@code v} in place.
     *
     * @param step      t, the 1-based number of this step (bias correction uses beta^t)
     * @param gradScale multiplies every gradient first: the clipping factor, 1 for none
     * @param params    P parameters
     * @param grads     P gradients (read only)
     * @param m         P first moments
     * @param v         P second moments
     */
    public static void step(AdamSettings settings, long step, float gradScale, float[] params, float[] grads,
                            float[] m, float[] v) {
        Objects.requireNonNull(settings, "settings");
        if (step < 1) {
            throw new IllegalArgumentException("the Adam step t is 1-based but is " + step);
        }
        Objects.requireNonNull(params, "params");
        Check.shape(grads, "grads", "P", params.length);
        Check.shape(m, "m", "P", params.length);
        Check.shape(v, "v", "P", params.length);
        double lr = settings.learningRate();
        double beta1 = settings.beta1();
        double beta2 = settings.beta2();
        double decay = settings.weightDecay();
        double stepSize = lr / (1.0 - Math.pow(beta1, step));
        double correction2Sqrt = Math.sqrt(1.0 - Math.pow(beta2, step));
        for (int n = 0; n < params.length; n++) {
            double p = params[n];
            double g = (double) gradScale * grads[n];
            if (!settings.decoupledWeightDecay()) {
                g += decay * p;
            }
            double mNew = beta1 * m[n] + (1.0 - beta1) * g;
            double vNew = beta2 * v[n] + (1.0 - beta2) * g * g;
            if (settings.decoupledWeightDecay()) {
                p *= 1.0 - lr * decay;
            }
            p -= stepSize * mNew / (Math.sqrt(vNew) / correction2Sqrt + settings.epsilon());
            m[n] = (float) mNew;
            v[n] = (float) vNew;
            params[n] = (float) p;
        }
    }
}
