package dev.elbo4j.examples;

import java.util.Random;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaRuntime;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.kernels.BernoulliKernels;
import dev.elbo4j.kernels.Binarization;
import dev.elbo4j.kernels.ElboReduction;
import dev.elbo4j.kernels.ElboTotals;
import dev.elbo4j.kernels.LatentKernels;
import dev.elbo4j.kernels.TargetFormat;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;

/**
 * The loss side of one VAE training step on the GPU: sample z from the encoder's output and take the KL, score
 * the decoder's logits against dynamically binarized pixels (log-likelihood and logit gradient in one pass), and
 * reduce to the batch loss and mean ELBO. Random numbers stand in for the encoder's and decoder's outputs.
 */
public final class ElboOnTheGpu {
    public static void main(String[] args) {
        int batch = 64, latent = 16, dims = 784;
        long seed = 42;
        int step = 0;
        LatentShape latentShape = LatentShape.of(batch, latent);      // K = 1, rows [mu | logvar] of 2L floats
        LikelihoodShape likelihood = LikelihoodShape.of(batch, dims);
        Random random = new Random(seed);
        float[] encoderOutput = new float[batch * 2 * latent];          // what the encoder's last GEMM writes
        float[] decoderLogits = new float[batch * dims];                // what the decoder's last GEMM writes
        byte[] pixels = new byte[batch * dims];                         // a batch of 28 x 28 images
        for (int i = 0; i < encoderOutput.length; i++) {
            encoderOutput[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < decoderLogits.length; i++) {
            decoderLogits[i] = (float) (3 * random.nextGaussian());
            pixels[i] = (byte) random.nextInt(256);
        }
        try (CudaContext gpu = CudaRuntime.get().openContext(0)) {     // device 0, its primary context
            ElboTotals totals = lossOfOneStep(gpu, latentShape, likelihood, encoderOutput, decoderLogits, pixels,
                    seed, step);
            System.out.printf("loss %.4f nats/image, mean ELBO %.4f nats/image%n", totals.loss(), totals.meanElbo());
        }
    }

    /** One step's loss: every launcher takes (stream, shape, inputs, settings, outputs); null is the default stream. */
    public static ElboTotals lossOfOneStep(CudaContext gpu, LatentShape latentShape, LikelihoodShape likelihood,
                                           float[] encoderOutput, float[] decoderLogits, byte[] pixels, long seed,
                                           int step) {
        var latent = new LatentKernels(gpu);
        var bernoulli = new BernoulliKernels(gpu);
        var elbo = new ElboReduction(gpu);
        int batch = likelihood.batch();
        try (DeviceBuffer muLogvar = gpu.allocateFloats(latentShape.encoderElements());
             DeviceBuffer z = gpu.allocateFloats(latentShape.sampleElements());
             DeviceBuffer kl = gpu.allocateFloats(batch);
             DeviceBuffer logits = gpu.allocateFloats(likelihood.outputElements());
             DeviceBuffer x = gpu.allocate(likelihood.dataElements());
             DeviceBuffer logProb = gpu.allocateFloats(batch);
             DeviceBuffer dLogits = gpu.allocateFloats(likelihood.outputElements());
             DeviceBuffer totals = gpu.allocateFloats(ElboTotals.FLOATS)) {
            muLogvar.copyFrom(encoderOutput);
            x.copyFrom(pixels);
            // Noise drawn in the kernel (Philox: seed and step), z and the per-row KL in one pass.
            latent.forward(null, latentShape, muLogvar, seed, step, z, kl, null);
            // ... here the decoder's GEMMs (Cublas.sgemm, row-major) would turn z into the logits ...
            logits.copyFrom(decoderLogits);
            // Per-row log p(x | z) and the logit gradient of the batch-mean loss, the pixels binarized on the fly.
            bernoulli.lossAndGradient(null, likelihood, logits, x, TargetFormat.PIXELS_U8,
                    new Binarization(seed, step), 1f / batch, logProb, dLogits);
            // [loss, mean ELBO], summed in a fixed order: the same bits on every run.
            elbo.reduce(null, likelihood.sampleShape(), logProb, kl, 1f, null, totals);
            return ElboTotals.read(totals);
        }
    }
}
