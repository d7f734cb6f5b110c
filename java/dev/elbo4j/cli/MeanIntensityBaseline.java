package dev.elbo4j.cli;

import java.util.Objects;

import dev.elbo4j.data.Idx;
import dev.elbo4j.reference.Bernoulli;
import dev.elbo4j.reference.Elbo;
import dev.elbo4j.reference.Reparameterization;
import dev.elbo4j.reference.Targets;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;

/**
 * The simplest VAE-shaped model: an encoder that outputs {@code mu = 0, logvar = 0} for every image (so the
 * posterior is the prior and KL = 0) and a decoder that ignores z and outputs the same logits for every image,
 * the per-pixel log-odds of the training set's mean intensity. Under the Bernoulli likelihood those are the
 * maximum-likelihood independent-pixel logits, so its ELBO is the floor a trained VAE must rise above.
 *
 * @param logits D logits, {@code log(p_d / (1 - p_d))}
 */
record MeanIntensityBaseline(float[] logits) {

    /** Latent dimension of the (trivial) encoder; the value is immaterial because the decoder ignores z. */
    private static final int LATENT = 1;
    /** Images scored per reference call. */
    private static final int BATCH = 1000;

    MeanIntensityBaseline {
        Objects.requireNonNull(logits, "logits");
    }

    /** Observer of scoring progress. */
    interface Progress {
        void scored(int done, int total);
    }

    /** The result, all in nats per image except bits per dimension. */
    record Result(double meanLogLikelihood, double meanKl, double elbo, double bitsPerDimension) {
    }

    /**
     * Fits the logits to training images: {@code p_d} = the mean of {@code pixel / 255} over the N images,
     * clamped to [0.5/N, 1 - 0.5/N] (half an image's worth away from 0 and 1, so a pixel that is always blank in
     * training costs a finite amount when it is not in test).
     */
    static MeanIntensityBaseline fit(Idx.Images train) {
        if (train.count() < 1) {
            throw new IllegalArgumentException("the training set holds no images");
        }
        int dims = train.pixelsPerImage();
        byte[] pixels = train.pixels();
        double[] sums = new double[dims];
        for (int image = 0; image < train.count(); image++) {
            for (int d = 0; d < dims; d++) {
                sums[d] += (pixels[image * dims + d] & 0xFF) / 255.0;
            }
        }
        double floor = 0.5 / train.count();
        float[] logits = new float[dims];
        for (int d = 0; d < dims; d++) {
            double p = Math.min(Math.max(sums[d] / train.count(), floor), 1 - floor);
            logits[d] = (float) (Math.log(p) - Math.log1p(-p));
        }
        return new MeanIntensityBaseline(logits);
    }

    /**
     * The mean ELBO over {@code images} with the reference's Bernoulli likelihood and closed-form KL. The decoder
     * ignores z, so E_q[log p(x|z)] is log p(x|z) for any z and needs no sampling.
     *
     * @param binarizeSeed null to score the intensities as they are, else the Philox seed of dynamic
     *                     binarization (offset = batch number, so every batch draws fresh noise)
     */
    Result evaluate(Idx.Images images, Long binarizeSeed, Progress progress) {
        int dims = images.pixelsPerImage();
        if (dims != logits.length) {
            throw new IllegalArgumentException("the images are " + images.rows() + " x " + images.columns() + " = "
                    + dims + " pixels but the model was fit to " + logits.length + " pixels");
        }
        if (images.count() < 1) {
            throw new IllegalArgumentException("there are no images to score");
        }
        double sumLogLikelihood = 0;
        double sumKl = 0;
        for (int start = 0, batchNumber = 0; start < images.count(); start += BATCH, batchNumber++) {
            int rows = Math.min(BATCH, images.count() - start);
            float[] batchLogits = new float[rows * dims];
            for (int b = 0; b < rows; b++) {
                System.arraycopy(logits, 0, batchLogits, b * dims, dims);
            }
            byte[] batchPixels = new byte[rows * dims];
            System.arraycopy(images.pixels(), start * dims, batchPixels, 0, rows * dims);
            Targets x = Targets.pixels(batchPixels);
            if (binarizeSeed != null) {
                x = x.binarized(binarizeSeed, batchNumber);
            }
            float[] logp = new float[rows];
            Bernoulli.logProb(LikelihoodShape.of(rows, dims), batchLogits, x, logp);
            float[] kl = new float[rows];
            Reparameterization.kl(LatentShape.of(rows, LATENT), new float[rows * 2 * LATENT], kl);
            for (int b = 0; b < rows; b++) {
                sumLogLikelihood += logp[b];
                sumKl += kl[b];
            }
            progress.scored(start + rows, images.count());
        }
        double meanLogLikelihood = sumLogLikelihood / images.count();
        double meanKl = sumKl / images.count();
        double elbo = meanLogLikelihood - meanKl;
        return new Result(meanLogLikelihood, meanKl, elbo, Elbo.bitsPerDimension(elbo, dims));
    }
}
