package dev.elbo4j.nn;

import java.util.List;
import java.util.Objects;

import dev.elbo4j.cuda.GemmPrecision;

/**
 * An MLP variational autoencoder, fully described: its shape, its likelihood and the settings of its training
 * objective. Immutable and checked when made, so a model built from a spec never meets a bad size later. Build one
 * with {@link #builder(int, int)}; the defaults are the PyTorch VAE example (ReLU, Bernoulli, beta 1, K = 1,
 * pixels as they are, FP32, seed 0) with the encoder's hidden sizes mirrored in the decoder.
 *
 * @param inputs           D, the data dimension (784 for 28 x 28 images)
 * @param encoderHidden    the encoder's hidden layer sizes, input side first (may be empty)
 * @param latent           L, the latent dimension
 * @param decoderHidden    the decoder's hidden layer sizes, latent side first (may be empty)
 * @param activation       of every hidden layer (the encoder's {@code [mu | logvar]} layer and the decoder's output
 *                         layer are linear)
 * @param likelihood       p(x | z)
 * @param fixedLogVariance the log-variance of {@link Likelihood#GAUSSIAN_FIXED} (ignored otherwise; 0 by default)
 * @param beta             the KL weight after warm-up (1: the ELBO); reported ELBOs always use 1
 * @param klWarmupSteps    beta rises linearly from 0 over this many training steps (0: none)
 * @param freeBits         floor in nats per latent dimension on the batch-mean KL (0: none)
 * @param samples          K, latent samples per data point in training (the loss averages them)
 * @param binarization     how pixels become targets
 * @param precision        of the GEMMs: FP32, or TF32/BF16 on a GPU (the loss always computes in FP32)
 * @param seed             of the initialization, the data order and the noise
 */
public record VaeSpec(int inputs, List<Integer> encoderHidden, int latent, List<Integer> decoderHidden,
                      Activation activation, Likelihood likelihood, float fixedLogVariance, float beta,
                      long klWarmupSteps, float freeBits, int samples, BinarizationMode binarization,
                      GemmPrecision precision, long seed) {

    /**
     * Checks every field.
     *
     * @throws IllegalArgumentException naming the first field that is out of range
     * @throws NullPointerException     when a field is null
     */
    public VaeSpec {
        positive(inputs, "inputs (D)");
        encoderHidden = sizes(encoderHidden, "encoder hidden size");
        positive(latent, "latent (L)");
        decoderHidden = sizes(decoderHidden, "decoder hidden size");
        Objects.requireNonNull(activation, "activation");
        if (activation == Activation.IDENTITY && (!encoderHidden.isEmpty() || !decoderHidden.isEmpty())) {
            throw new IllegalArgumentException("the hidden activation may not be IDENTITY: "
                    + "use RELU, TANH, LEAKY_RELU or SILU (a linear hidden layer adds nothing)");
        }
        Objects.requireNonNull(likelihood, "likelihood");
        if (!Float.isFinite(fixedLogVariance)) {
            throw new IllegalArgumentException("the fixed log-variance must be finite but is " + fixedLogVariance);
        }
        Objects.requireNonNull(binarization, "binarization");
        if (binarization != BinarizationMode.NONE && likelihood.isGaussian()) {
            throw new IllegalArgumentException("binarization " + binarization + " is for a Bernoulli likelihood, "
                    + "not " + likelihood + ": use BinarizationMode.NONE");
        }
        Objects.requireNonNull(precision, "precision");
        positive(samples, "samples (K)");
        new KlSchedule(beta, klWarmupSteps, freeBits); // checks the three
        // Activations and gradients of (K*B) rows of the widest layer must index as int on every backend.
        long widest = Math.max(inputs, 2L * latent);
        for (int size : encoderHidden) {
            widest = Math.max(widest, size);
        }
        for (int size : decoderHidden) {
            widest = Math.max(widest, size);
        }
        if (widest * samples > Integer.MAX_VALUE / 64) {
            throw new IllegalArgumentException("K x widest layer = " + samples + " x " + widest
                    + " is too large: a batch of 64 rows would exceed 2^31 elements");
        }
    }

    /** A builder for a model of {@code inputs} dimensions and {@code latent} latent dimensions, with the defaults. */
    public static Builder builder(int inputs, int latent) {
        return new Builder(inputs, latent);
    }

    /** A builder holding this spec's values. */
    public Builder toBuilder() {
        Builder builder = new Builder(inputs, latent);
        builder.encoderHidden = encoderHidden;
        builder.decoderHidden = decoderHidden;
        builder.activation = activation;
        builder.likelihood = likelihood;
        builder.fixedLogVariance = fixedLogVariance;
        builder.beta = beta;
        builder.klWarmupSteps = klWarmupSteps;
        builder.freeBits = freeBits;
        builder.samples = samples;
        builder.binarization = binarization;
        builder.precision = precision;
        builder.seed = seed;
        return builder;
    }

    /** The KL term's schedule of this spec. */
    public KlSchedule klSchedule() {
        return new KlSchedule(beta, klWarmupSteps, freeBits);
    }

    /** "784-400-20-400-784 RELU BERNOULLI K=1". */
    public String summary() {
        StringBuilder text = new StringBuilder().append(inputs);
        encoderHidden.forEach(size -> text.append('-').append(size));
        text.append('-').append(latent);
        decoderHidden.forEach(size -> text.append('-').append(size));
        text.append('-').append(inputs).append(' ').append(activation).append(' ').append(likelihood);
        if (samples > 1) {
            text.append(" K=").append(samples);
        }
        return text.toString();
    }

    private static void positive(int value, String name) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " must be at least 1 but is " + value);
        }
    }

    private static List<Integer> sizes(List<Integer> sizes, String name) {
        Objects.requireNonNull(sizes, name + "s");
        for (Integer size : sizes) {
            Objects.requireNonNull(size, name);
            positive(size, name);
        }
        return List.copyOf(sizes);
    }

    /** Collects a spec's fields; {@link #build()} checks them. Unset fields keep the defaults of {@link VaeSpec}. */
    public static final class Builder {
        private final int inputs;
        private final int latent;
        private List<Integer> encoderHidden = List.of();
        private List<Integer> decoderHidden;
        private Activation activation = Activation.RELU;
        private Likelihood likelihood = Likelihood.BERNOULLI;
        private float fixedLogVariance;
        private float beta = 1f;
        private long klWarmupSteps;
        private float freeBits;
        private int samples = 1;
        private BinarizationMode binarization = BinarizationMode.NONE;
        private GemmPrecision precision = GemmPrecision.FP32;
        private long seed;

        private Builder(int inputs, int latent) {
            this.inputs = inputs;
            this.latent = latent;
        }

        /** The encoder's hidden sizes, input side first; the decoder mirrors them unless set. */
        public Builder encoderHidden(int... sizes) {
            this.encoderHidden = java.util.Arrays.stream(sizes).boxed().toList();
            return this;
        }

        /** The decoder's hidden sizes, latent side first (default: the encoder's reversed). */
        public Builder decoderHidden(int... sizes) {
            this.decoderHidden = java.util.Arrays.stream(sizes).boxed().toList();
            return this;
        }

        /** The hidden activation (default RELU). */
        public Builder activation(Activation activation) {
            this.activation = activation;
            return this;
        }

        /** The likelihood (default BERNOULLI). */
        public Builder likelihood(Likelihood likelihood) {
            this.likelihood = likelihood;
            return this;
        }

        /** The log-variance of {@link Likelihood#GAUSSIAN_FIXED} (default 0). */
        public Builder fixedLogVariance(float fixedLogVariance) {
            this.fixedLogVariance = fixedLogVariance;
            return this;
        }

        /** The KL weight (default 1). */
        public Builder beta(float beta) {
            this.beta = beta;
            return this;
        }

        /** Steps over which beta rises from 0 (default 0: none). */
        public Builder klWarmupSteps(long steps) {
            this.klWarmupSteps = steps;
            return this;
        }

        /** Free bits per latent dimension in nats (default 0: none). */
        public Builder freeBits(float freeBits) {
            this.freeBits = freeBits;
            return this;
        }

        /** K, latent samples per data point in training (default 1). */
        public Builder samples(int samples) {
            this.samples = samples;
            return this;
        }

        /** The binarization of the pixels (default NONE). */
        public Builder binarization(BinarizationMode binarization) {
            this.binarization = binarization;
            return this;
        }

        /** The GEMM precision (default FP32). */
        public Builder precision(GemmPrecision precision) {
            this.precision = precision;
            return this;
        }

        /** The seed (default 0). */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** The checked spec. */
        public VaeSpec build() {
            List<Integer> decoder = decoderHidden;
            if (decoder == null) {
                decoder = new java.util.ArrayList<>(encoderHidden);
                java.util.Collections.reverse(decoder);
            }
            return new VaeSpec(inputs, encoderHidden, latent, decoder, activation, likelihood, fixedLogVariance, beta,
                    klWarmupSteps, freeBits, samples, binarization, precision, seed);
        }
    }
}
