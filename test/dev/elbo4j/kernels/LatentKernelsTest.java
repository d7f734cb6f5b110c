package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.KernelAssertions.assertBitIdentical;
import static dev.elbo4j.kernels.KernelAssertions.assertElementwise;
import static dev.elbo4j.kernels.KernelAssertions.assertRowSums;
import static dev.elbo4j.kernels.KernelAssertions.assertStillPoisoned;
import static dev.elbo4j.kernels.KernelAssertions.nans;
import static dev.elbo4j.kernels.KernelAssertions.poisoned;
import static dev.elbo4j.kernels.KernelAssertions.upload;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.reference.Iwae;
import dev.elbo4j.reference.Philox;
import dev.elbo4j.reference.Reparameterization;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;

/**
 * The latent forward and backward, fused ({@link LatentKernels}) and unfused ({@link UnfusedElbo}), against the
 * CPU reference on fresh random inputs: logvar in [-20, 10] with the ends planted, B = 1, L = 1, L = 3, odd row
 * strides (the scalar path), K > 1, and a misaligned view.
 */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, TestRandom.Extension.class})
class LatentKernelsTest {
    private static final double LOG_TWO_PI = Math.log(2 * Math.PI);

    /** {B, L, K, rowStride}. */
    private static final int[][] SHAPES = {
            {1, 1, 1, 2}, {1, 3, 1, 6}, {5, 3, 2, 6}, {4, 32, 1, 64}, {3, 8, 3, 17}, {6, 4, 2, 8},
            {2, 5, 1, 13}, {33, 16, 4, 32}, {130, 7, 1, 14}, {64, 32, 2, 64}};

    private final CudaContext cuda;
    private final LatentKernels fused;

    LatentKernelsTest(CudaContext cuda) {
        this.cuda = cuda;
        this.fused = new LatentKernels(cuda);
    }

    /** Random encoder output: mu ~ N(0, 1.5^2), logvar in [-20, 10], padding columns random (never read). */
    private static float[] encoderOutput(TestRandom random, int batch, int latent, int rowStride) {
        float[] out = random.normals(batch * rowStride, 1.5);
        float[] logvars = random.logvars(batch * latent);
        for (int b = 0; b < batch; b++) {
            System.arraycopy(logvars, b * latent, out, b * rowStride + latent, latent);
        }
        return out;
    }

    private record Forward(float[] z, float[] kl, float[] logRatio) {
    }

    /** Runs the forward on {@code path} with every output poisoned first. */
    private Forward runForward(Path path, LatentShape shape, DeviceBuffer muLogvar, long seed, int offset) {
        try (DeviceBuffer z = poisoned(cuda, shape.sampleElements()); DeviceBuffer kl = poisoned(cuda, shape.batch());
             DeviceBuffer logRatio = poisoned(cuda, shape.sampleShape().rows())) {
            switch (path) {
                case FUSED -> fused.forward(null, shape, muLogvar, seed, offset, z, kl, logRatio);
                case UNFUSED -> {
                    try (UnfusedElbo unfused = unfused(shape)) {
                        unfused.latentForward(null, shape, muLogvar, seed, offset, z, kl, logRatio);
                        cuda.synchronize();
                    }
                }
            }
            return new Forward(z.toFloatArray(), kl.toFloatArray(), logRatio.toFloatArray());
        }
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void forwardMatchesTheReference(Path path, TestRandom random) {
        for (int[] shape : SHAPES) {
            int batch = shape[0], latent = shape[1], samples = shape[2], rowStride = shape[3];
            LatentShape latentShape = new LatentShape(samples, batch, latent, rowStride);
            String where = path + " " + latentShape;
            float[] muLogvar = encoderOutput(random, batch, latent, rowStride);
            long seed = random.nextLong();
            int offset = random.nextInt(1 << 30);

            float[] z = new float[samples * batch * latent];
            float[] kl = new float[batch];
            Reparameterization.forward(latentShape, muLogvar, seed, offset, z, kl);
            float[] logRatio = new float[samples * batch];
            Iwae.logWeights(latentShape, muLogvar, new float[samples * batch], seed, offset, logRatio);

            Forward gpu;
            try (DeviceBuffer input = upload(cuda, muLogvar)) {
                gpu = runForward(path, latentShape, input, seed, offset);
            }
            assertElementwise(where + ": z", gpu.z(), z);
            assertRowSums(where + ": kl", gpu.kl(), kl, klMagnitudes(muLogvar, batch, latent, rowStride));
            assertRowSums(where + ": logRatio", gpu.logRatio(), logRatio,
                    logRatioMagnitudes(muLogvar, batch, latent, rowStride, samples, seed, offset, z));
        }
    }

    /** Runs the backward on {@code path}; columns [2L, rowStride) of the gradient start as 7 and must stay 7. */
    private float[] runBackward(Path path, LatentShape shape, DeviceBuffer muLogvar, long seed, int offset, float[] z,
                                float[] dz, float beta, float rowWeight) {
        float[] initial = gradientBuffer(shape.batch(), shape.latent(), shape.rowStride());
        try (DeviceBuffer grad = upload(cuda, initial); DeviceBuffer dzBuffer = upload(cuda, dz);
             DeviceBuffer zBuffer = z == null ? null : upload(cuda, z)) {
            switch (path) {
                case FUSED -> {
                    if (z == null) {
                        fused.backward(null, shape, muLogvar, dzBuffer, seed, offset, beta, rowWeight, grad);
                    } else {
                        fused.backwardFromSamples(null, shape, muLogvar, zBuffer, dzBuffer, beta, rowWeight, grad);
                    }
                }
                case UNFUSED -> {
                    try (UnfusedElbo unfused = unfused(shape)) {
                        if (z == null) {
                            unfused.latentBackward(null, shape, muLogvar, dzBuffer, seed, offset, beta, rowWeight,
                                    grad);
                        } else {
                            unfused.latentBackwardFromSamples(null, shape, muLogvar, zBuffer, dzBuffer, beta,
                                    rowWeight, grad);
                        }
                        cuda.synchronize();
                    }
                }
            }
            return grad.toFloatArray();
        }
    }

    /** NaN in the gradient's columns [0, 2L), 7 in the padding columns the kernels must not touch. */
    private static float[] gradientBuffer(int batch, int latent, int rowStride) {
        float[] out = nans(batch * rowStride);
        for (int b = 0; b < batch; b++) {
            Arrays.fill(out, b * rowStride + 2 * latent, (b + 1) * rowStride, 7f);
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void backwardWithRegeneratedNoiseMatchesTheReference(Path path, TestRandom random) {
        checkBackward(path, random, false);
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void backwardFromSavedSamplesMatchesTheReference(Path path, TestRandom random) {
        checkBackward(path, random, true);
    }

    private void checkBackward(Path path, TestRandom random, boolean fromSamples) {
        for (int[] shape : SHAPES) {
            int batch = shape[0], latent = shape[1], samples = shape[2], rowStride = shape[3];
            LatentShape latentShape = new LatentShape(samples, batch, latent, rowStride);
            String where = path + (fromSamples ? " from samples " : " regenerated ") + latentShape;
            float[] muLogvar = encoderOutput(random, batch, latent, rowStride);
            long seed = random.nextLong();
            int offset = random.nextInt(1 << 30);
            // dz as a decoder's backward delivers it: carrying the 1/B of a batch mean.
            float[] dz = random.normals(samples * batch * latent, 1.0 / batch);
            float beta = (float) random.uniform(0.25, 4.0);
            float rowWeight = 1f / batch;

            float[] expected = gradientBuffer(batch, latent, rowStride);
            float[] z = null;
            if (fromSamples) {
                z = new float[samples * batch * latent];
                Reparameterization.forward(latentShape, muLogvar, seed, offset, z, new float[batch]);
                Reparameterization.backwardFromSamples(latentShape, muLogvar, z, dz, beta, rowWeight, expected);
            } else {
                Reparameterization.backward(latentShape, muLogvar, dz, seed, offset, beta, rowWeight, expected);
            }
            float[] actual;
            try (DeviceBuffer input = upload(cuda, muLogvar)) {
                actual = runBackward(path, latentShape, input, seed, offset, z, dz, beta, rowWeight);
            }
            assertElementwise(where + ": d[mu | logvar] (padding columns must stay 7)", actual, expected);
        }
    }

    @Test
    void misalignedViewsTakeTheScalarPathWithTheSameResults(TestRandom random) {
        // L % 4 == 0 and an even row stride would take the float4 path; views one float into their buffers do not.
        int batch = 9, latent = 8, rowStride = 16, samples = 2;
        LatentShape shape = new LatentShape(samples, batch, latent, rowStride);
        float[] muLogvar = encoderOutput(random, batch, latent, rowStride);
        long seed = random.nextLong();
        int offset = random.nextInt(1 << 30);
        float[] z = new float[samples * batch * latent];
        float[] kl = new float[batch];
        Reparameterization.forward(shape, muLogvar, seed, offset, z, kl);
        float[] dz = random.normals(samples * batch * latent, 1.0 / batch);
        float[] expectedGrad = gradientBuffer(batch, latent, rowStride);
        Reparameterization.backward(shape, muLogvar, dz, seed, offset, 1f, 1f / batch, expectedGrad);

        float[] padded = new float[muLogvar.length + 1];
        System.arraycopy(muLogvar, 0, padded, 1, muLogvar.length);
        float[] paddedGrad = new float[expectedGrad.length + 1];
        System.arraycopy(gradientBuffer(batch, latent, rowStride), 0, paddedGrad, 1, expectedGrad.length);
        float[] paddedDz = new float[dz.length + 1];
        System.arraycopy(dz, 0, paddedDz, 1, dz.length);
        try (DeviceBuffer inputBuffer = upload(cuda, padded); DeviceBuffer zBuffer = poisoned(cuda, z.length + 1);
             DeviceBuffer klBuffer = poisoned(cuda, batch); DeviceBuffer gradBuffer = upload(cuda, paddedGrad);
             DeviceBuffer dzBuffer = upload(cuda, paddedDz)) {
            DeviceBuffer input = inputBuffer.sliceFloats(1, muLogvar.length);
            DeviceBuffer zView = zBuffer.sliceFloats(1, z.length);
            fused.forward(null, shape, input, seed, offset, zView, klBuffer, null);
            fused.backward(null, shape, input, dzBuffer.sliceFloats(1, dz.length), seed, offset, 1f, 1f / batch,
                    gradBuffer.sliceFloats(1, expectedGrad.length));
            assertElementwise("z through misaligned views", zView.toFloatArray(), z);
            assertRowSums("kl through misaligned views", klBuffer.toFloatArray(), kl,
                    klMagnitudes(muLogvar, batch, latent, rowStride));
            assertElementwise("d[mu | logvar] through misaligned views",
                    gradBuffer.sliceFloats(1, expectedGrad.length).toFloatArray(), expectedGrad);
        }
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void theSameSeedGivesTheSameBitsAndANewOffsetNewNoise(Path path, TestRandom random) {
        int batch = 37, latent = 12, rowStride = 24, samples = 3;
        LatentShape shape = new LatentShape(samples, batch, latent, rowStride);
        float[] muLogvar = encoderOutput(random, batch, latent, rowStride);
        long seed = random.nextLong();
        int offset = random.nextInt(1 << 30);
        float[] dz = random.normals(samples * batch * latent, 1.0 / batch);
        try (DeviceBuffer input = upload(cuda, muLogvar)) {
            Forward first = runForward(path, shape, input, seed, offset);
            Forward second = runForward(path, shape, input, seed, offset);
            assertBitIdentical(path + " z", first.z(), second.z());
            assertBitIdentical(path + " kl", first.kl(), second.kl());
            assertBitIdentical(path + " logRatio", first.logRatio(), second.logRatio());
            assertBitIdentical(path + " d[mu | logvar]",
                    runBackward(path, shape, input, seed, offset, null, dz, 1f, 1f / batch),
                    runBackward(path, shape, input, seed, offset, null, dz, 1f, 1f / batch));
            Forward nextStep = runForward(path, shape, input, seed, offset + 1);
            assertFalse(Arrays.equals(first.z(), nextStep.z()), "offset + 1 must draw new noise");
        }
    }

    @Test
    void fusedAndUnfusedDrawTheSameNoise(TestRandom random) {
        int batch = 11, latent = 5, rowStride = 10, samples = 2;
        LatentShape shape = new LatentShape(samples, batch, latent, rowStride);
        float[] muLogvar = encoderOutput(random, batch, latent, rowStride);
        long seed = random.nextLong();
        int offset = random.nextInt(1 << 30);
        try (DeviceBuffer input = upload(cuda, muLogvar)) {
            assertBitIdentical("z, fused vs unfused", runForward(Path.FUSED, shape, input, seed, offset).z(),
                    runForward(Path.UNFUSED, shape, input, seed, offset).z());
        }
    }

    @Test
    void refusedCallsThrowBeforeAnyLaunch(TestRandom random) {
        int batch = 4, latent = 3, rowStride = 6, samples = 2;
        LatentShape shape = new LatentShape(samples, batch, latent, rowStride);
        float[] muLogvar = encoderOutput(random, batch, latent, rowStride);
        try (DeviceBuffer input = upload(cuda, muLogvar); DeviceBuffer z = poisoned(cuda, samples * batch * latent);
             DeviceBuffer kl = poisoned(cuda, batch); DeviceBuffer small = poisoned(cuda, samples * batch * latent - 1);
             DeviceBuffer dz = upload(cuda, random.normals(samples * batch * latent, 1));
             DeviceBuffer grad = poisoned(cuda, batch * rowStride);
             UnfusedElbo unfused = unfused(shape)) {
            List<Runnable> refused = new ArrayList<>();
            refused.add(() -> fused.forward(null, null, input, 1L, 0, z, kl, null));
            refused.add(() -> fused.forward(null, shape.withRowStride(rowStride + 1), input, 1L, 0, z, kl, null));
            refused.add(() -> fused.forward(null, new LatentShape(samples, batch + 1, latent, rowStride), input, 1L, 0,
                    z, kl, null));
            refused.add(() -> fused.forward(null, shape, input, 1L, 0, small, kl, null));
            refused.add(() -> fused.forward(null, shape, input, 1L, 0, z, kl, z));
            refused.add(() -> fused.forward(null, shape, input, 1L, 0, input.sliceFloats(0, samples * batch * latent),
                    kl, null));
            refused.add(() -> fused.backward(null, shape, input, small, 1L, 0, 1f, 1f, grad));
            refused.add(() -> fused.backward(null, shape, input, dz, 1L, 0, Float.NaN, 1f, grad));
            refused.add(() -> fused.backward(null, shape, input, dz, 1L, 0, 1f, 1f, input));
            refused.add(() -> fused.backwardFromSamples(null, shape, input, small, dz, 1f, 1f, grad));
            refused.add(() -> unfused.latentForward(null, shape.withSamples(samples + 1), input, 1L, 0, z, kl, null));
            refused.add(() -> unfused.latentBackward(null, shape, input, small, 1L, 0, 1f, 1f, grad));
            for (int i = 0; i < refused.size(); i++) {
                int call = i;
                Exception thrown = assertThrows(RuntimeException.class, refused.get(i)::run, "call " + call);
                assertTrue(thrown instanceof IllegalArgumentException || thrown instanceof NullPointerException,
                        "call " + call + " threw " + thrown);
            }
            DeviceBuffer closed = upload(cuda, muLogvar);
            closed.close();
            assertThrows(IllegalStateException.class, () -> fused.forward(null, shape, closed, 1L, 0, z, kl, null));
            assertThrows(IllegalStateException.class,
                    () -> unfused.latentForward(null, shape, closed, 1L, 0, z, kl, null));
            assertStillPoisoned("z", z.toFloatArray());
            assertStillPoisoned("kl", kl.toFloatArray());
            assertStillPoisoned("grad", grad.toFloatArray());
        }
    }

    /** An unfused baseline with room for the latent calls of {@code shape}. */
    private UnfusedElbo unfused(LatentShape shape) {
        return new UnfusedElbo(cuda, shape, LikelihoodShape.of(shape.batch(), 1));
    }

    // ---- term magnitudes for the row-sum tolerance ----

    /** sum_l |0.5 (mu^2 + exp(logvar) - 1 - logvar)| per row. */
    private static double[] klMagnitudes(float[] muLogvar, int batch, int latent, int rowStride) {
        double[] out = new double[batch];
        for (int b = 0; b < batch; b++) {
            for (int l = 0; l < latent; l++) {
                double mu = muLogvar[b * rowStride + l];
                double logvar = muLogvar[b * rowStride + latent + l];
                out[b] += 0.5 * Math.abs(mu * mu + Math.exp(logvar) - 1 - logvar);
            }
        }
        return out;
    }

    /** sum_l of 0.5 |z^2 + log 2 pi| and 0.5 |eps^2 + log 2 pi + logvar| per sample row: both sums' terms. */
    private static double[] logRatioMagnitudes(float[] muLogvar, int batch, int latent, int rowStride, int samples,
                                               long seed, int offset, float[] z) {
        double[] out = new double[samples * batch];
        float[] eps = new float[samples * batch * latent];
        Philox.normals(seed, offset, Philox.STREAM_REPARAMETERIZATION, 0, eps);
        for (int r = 0; r < samples * batch; r++) {
            int b = r % batch;
            for (int l = 0; l < latent; l++) {
                double zv = z[r * latent + l];
                double e = eps[r * latent + l];
                double logvar = muLogvar[b * rowStride + latent + l];
                out[r] += 0.5 * Math.abs(zv * zv + LOG_TWO_PI) + 0.5 * Math.abs(e * e + LOG_TWO_PI + logvar);
            }
        }
        return out;
    }
}
