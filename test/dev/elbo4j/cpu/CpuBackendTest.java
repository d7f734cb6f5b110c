package dev.elbo4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.nn.Activation;
import dev.elbo4j.nn.AdamSettings;
import dev.elbo4j.nn.Backend;
import dev.elbo4j.nn.Backend.Floats;
import dev.elbo4j.nn.BackendTesting;
import dev.elbo4j.nn.KlSchedule;
import dev.elbo4j.nn.StepStatus;
import dev.elbo4j.reference.Adam;
import dev.elbo4j.reference.Bernoulli;
import dev.elbo4j.reference.Dense;
import dev.elbo4j.reference.Gaussian;
import dev.elbo4j.reference.GradientNorm;
import dev.elbo4j.reference.Iwae;
import dev.elbo4j.reference.Philox;
import dev.elbo4j.reference.Reparameterization;
import dev.elbo4j.reference.Targets;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.DenseShape;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;
import dev.elbo4j.shape.SampleShape;

/**
 * Every operation of the CPU backend against {@code dev.elbo4j.reference} on fresh random inputs with the spec's
 * tolerances (elementwise {@code 1e-5 |ref| + 1e-6}; sums {@code 1e-5 sum |term| + 1e-5}), at shapes that are not
 * multiples of anything, on 2 threads with sizes large enough to be shared out.
 */
@ExtendWith({CpuTestSupport.class, TestRandom.Extension.class})
class CpuBackendTest {
    private final CpuBackend backend;

    CpuBackendTest(CpuBackend backend) {
        this.backend = backend;
    }

    private Floats upload(float[] values) {
        return BackendTesting.upload(backend, values);
    }

    private float[] download(Floats buffer) {
        return BackendTesting.download(backend, buffer);
    }

    /** The spec's elementwise rule: 1e-5 of the reference's magnitude ({@code scale}: of the sum's) plus 1e-6. */
    private static void assertClose(float[] expected, float[] actual, double[] scale, String what, TestRandom random) {
        BackendTesting.assertWithin(expected, actual, scale, 1e-6, what, random);
    }

    private static void assertElementwise(float[] expected, float[] actual, String what, TestRandom random) {
        assertClose(expected, actual, null, what, random);
    }

    @ParameterizedTest
    @EnumSource(Activation.class)
    void denseForwardAndBackwardMatchTheReference(Activation activation, TestRandom random) {
        BackendTesting.assertDenseLayerMatchesTheReference(backend, new DenseShape(37, 53, 29), activation, random);
    }

    /** {@link BackendTesting#assertNaNPreActivationStaysNaN}: NaN stays NaN, as in PyTorch. */
    @ParameterizedTest
    @EnumSource(Activation.class)
    void aNaNPreActivationStaysNaNThroughEveryActivation(Activation activation, TestRandom random) {
        BackendTesting.assertNaNPreActivationStaysNaN(backend, activation, 7, random);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3})
    void latentForwardAndBackwardMatchTheReference(int samples, TestRandom random) {
        int batch = 301;
        int latent = 3;
        int stride = 2 * latent + 1;
        LatentShape shape = LatentShape.of(batch, latent).withSamples(samples).withRowStride(stride);
        float[] muLogvar = random.normals(batch * stride, 1.0);
        float[] logvars = random.logvars(batch * latent);
        for (int b = 0; b < batch; b++) {
            System.arraycopy(logvars, b * latent, muLogvar, b * stride + latent, latent);
        }
        long seed = random.nextLong();
        int step = random.nextInt(1 << 30);
        float[] z = new float[samples * batch * latent];
        float[] kl = new float[batch];
        Reparameterization.forward(shape, muLogvar, seed, step, z, kl);
        float[] logWeights = new float[samples * batch];
        Iwae.logWeights(shape, muLogvar, new float[samples * batch], seed, step, logWeights);
        float[] dz = random.normals(z.length, 0.1);
        float beta = 0.7f;
        float rowWeight = 1f / batch;
        float[] dMuLogvar = new float[muLogvar.length];
        Reparameterization.backward(shape, muLogvar, dz, seed, step, beta, rowWeight, dMuLogvar);

        Backend.StepState state = backend.allocateState();
        backend.writeState(state, StepStatus.initial().atStep(step));
        Floats gml = upload(muLogvar);
        Floats gz = backend.allocateFloats(z.length);
        Floats gkl = backend.allocateFloats(batch);
        Floats gratio = backend.allocateFloats(samples * batch);
        backend.latentForward(shape, gml, seed, state, gz, gkl, gratio);
        assertElementwise(z, download(gz), "z", random);
        assertElementwise(kl, download(gkl), "kl", random);
        assertElementwise(logWeights, download(gratio), "logRatio", random);

        float[] weights = new float[latent];
        java.util.Arrays.fill(weights, beta * rowWeight);
        Floats gd = upload(new float[muLogvar.length]);
        backend.latentBackward(shape, gml, upload(dz), seed, state, upload(weights), gd);
        float[] actual = download(gd);
        for (int b = 0; b < batch; b++) {
            actual[b * stride + 2 * latent] = 0f; // the padding column is untouched (0) in both
        }
        assertElementwise(dMuLogvar, actual, "dMuLogvar", random);

        // The backward reuses the forward's noise when it is this step's; drawn again otherwise (another step's
        // forward in between), it must give the same bits.
        Backend.StepState other = backend.allocateState();
        backend.writeState(other, StepStatus.initial().atStep(step + 1));
        backend.latentForward(shape, gml, seed, other, gz, gkl, null);
        Floats redrawn = upload(new float[muLogvar.length]);
        backend.latentBackward(shape, gml, upload(dz), seed, state, upload(weights), redrawn);
        float[] again = download(redrawn);
        for (int b = 0; b < batch; b++) {
            again[b * stride + 2 * latent] = 0f;
        }
        assertArrayEquals(actual, again, random.tag() + ": dMuLogvar with the noise drawn again");
    }

    @Test
    void bernoulliLossMatchesTheReference(TestRandom random) {
        int samples = 2;
        int batch = 67;
        int dims = 783;
        float[] logits = random.logits(samples * batch * dims);
        float[] x = random.unitValues(batch * dims);
        // Infinite logits (certain outcomes): the term's limit, 0 or -Inf, and the gradient sigmoid - x.
        float[] infinite = {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
        for (int i = 0; i < 6; i++) {
            int row = random.nextInt(batch);
            int d = random.nextInt(dims);
            logits[row * dims + d] = infinite[i % 2];
            x[row * dims + d] = i < 2 ? (i % 2 == 0 ? 1f : 0f) : (float) random.uniform(0, 1);
        }
        float[] logp = new float[samples * batch];
        float[] grad = new float[logits.length];
        float scale = 1f / (samples * batch);
        Bernoulli.logProbAndGrad(new LikelihoodShape(samples, batch, dims), logits, Targets.values(x), scale, logp,
                grad);
        Floats glogp = backend.allocateFloats(logp.length);
        Floats ggrad = backend.allocateFloats(grad.length);
        backend.bernoulliLoss(new LikelihoodShape(samples, batch, dims), upload(logits), upload(x), scale, glogp,
                ggrad);
        assertElementwise(grad, download(ggrad), "grad", random);
        float[] actual = download(glogp);
        double[] rowSums = rowScale(logits, samples * batch, dims);
        for (int r = 0; r < logp.length; r++) {
            if (Float.isInfinite(logp[r])) {
                assertEquals(logp[r], actual[r], random.tag() + ": logProb[" + r + "] (a certain outcome missed)");
                actual[r] = logp[r] = 0f;
                rowSums[r] = 0;
            } else if (Double.isInfinite(rowSums[r])) {
                rowSums[r] = rowScale(finiteOnly(logits, r, dims), 1, dims)[0];
            }
        }
        assertClose(logp, actual, rowSums, "logProb", random);
    }

    /** Row r of {@code logits} with infinite values as 0 (their terms are 0 when the row's log p is finite). */
    private static float[] finiteOnly(float[] logits, int row, int dims) {
        float[] out = new float[dims];
        for (int d = 0; d < dims; d++) {
            float value = logits[row * dims + d];
            out[d] = Float.isInfinite(value) ? 0f : value;
        }
        return out;
    }

    /** Infinite logits take the formula's limits, as in the reference and the kernels: 0 or -Inf, never NaN. */
    @Test
    void bernoulliLossTakesTheLimitsAtInfiniteLogits(TestRandom random) {
        float inf = Float.POSITIVE_INFINITY;
        float[] logits = {inf, inf, -inf, -inf, inf, -inf};
        float[] x = {1f, 0f, 0f, 1f, 0.5f, 0.25f};
        LikelihoodShape shape = LikelihoodShape.of(6, 1);
        float[] logp = new float[6];
        float[] grad = new float[6];
        Bernoulli.logProbAndGrad(shape, logits, Targets.values(x), 1f, logp, grad);
        Floats glogp = backend.allocateFloats(6);
        Floats ggrad = backend.allocateFloats(6);
        backend.bernoulliLoss(shape, upload(logits), upload(x), 1f, glogp, ggrad);
        float[] actual = download(glogp);
        for (int r = 0; r < 6; r++) {
            assertEquals(logp[r], actual[r], random.tag() + ": logProb of logit " + logits[r] + ", x " + x[r]);
        }
        assertEquals(0f, actual[0]);
        assertEquals(Float.NEGATIVE_INFINITY, actual[1]);
        assertElementwise(grad, download(ggrad), "grad", random);
    }

    /** sum_d |term| of each row, with |term| bounded by |l| + softplus(l) <= 2|l| + 1. */
    private static double[] rowScale(float[] values, int rows, int dims) {
        double[] scale = new double[rows];
        for (int r = 0; r < rows; r++) {
            for (int d = 0; d < dims; d++) {
                scale[r] += 2 * Math.abs(values[r * dims + d]) + 1;
            }
        }
        return scale;
    }

    @Test
    void theVectorizableExpAndLog1pAreAccurate(TestRandom random) {
        int n = 100_000;
        float[] logits = random.uniforms(n, -150, 150);
        logits[0] = 0f;
        logits[1] = 100f;
        logits[2] = -1e30f;
        double[] e = new double[n];
        CpuBackend.expNegAbs(logits, 0, n, e);
        for (int i = 0; i < n; i++) {
            double a = Math.abs((double) logits[i]);
            double expected = Math.exp(-Math.min(a, 100.0));
            assertTrue(Math.abs(e[i] - expected) <= 1e-12 * expected, random.tag() + ": exp(-" + a + ") = " + e[i]
                    + ", not " + expected);
            double log1p = CpuBackend.log1pUnit(e[i]);
            assertTrue(Math.abs(log1p - Math.log1p(e[i])) <= 1e-12 * Math.log1p(e[i]) + 1e-300,
                    random.tag() + ": log1p(" + e[i] + ") = " + log1p);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"fixed", "dimension", "row"})
    void gaussianLossMatchesTheReference(String mode, TestRandom random) {
        int samples = 2;
        int batch = 41;
        int dims = 97;
        float[] mean = random.uniforms(samples * batch * dims, -0.5, 1.5);
        float[] x = random.unitValues(batch * dims);
        x[5] = mean[5]; // x = m exactly, with a very negative log-variance below
        float scale = 1f / (samples * batch);
        float[] logp = new float[samples * batch];
        float[] gradMean = new float[mean.length];
        Floats glogp = backend.allocateFloats(logp.length);
        Floats gGradMean = backend.allocateFloats(mean.length);
        LikelihoodShape shape = new LikelihoodShape(samples, batch, dims);
        switch (mode) {
            case "fixed" -> {
                float s = (float) random.uniform(-3, 3);
                Gaussian.logProbAndGrad(shape, mean, x, new Gaussian.LogVariance.Fixed(s), scale, logp, gradMean,
                        null);
                backend.gaussianLoss(shape, upload(mean), upload(x), new Backend.LogVariance.Fixed(s), scale, glogp,
                        gGradMean, null);
            }
            case "dimension" -> {
                float[] s = random.uniforms(dims, -4, 4);
                float[] gradLogVar = new float[dims];
                Gaussian.logProbAndGrad(shape, mean, x, new Gaussian.LogVariance.PerDimension(s), scale, logp,
                        gradMean, gradLogVar);
                Floats g = backend.allocateFloats(dims);
                backend.gaussianLoss(shape, upload(mean), upload(x), new Backend.LogVariance.PerDimension(upload(s)),
                        scale, glogp, gGradMean, g);
                double[] sums = new double[dims];
                for (int r = 0; r < samples * batch; r++) {
                    for (int d = 0; d < dims; d++) {
                        double diff = x[(r % batch) * dims + d] - mean[r * dims + d];
                        sums[d] += scale * 0.5 * (1 + diff * diff * Math.exp(-s[d]));
                    }
                }
                assertClose(gradLogVar, download(g), sums, "gradLogVar", random);
            }
            default -> {
                float[] s = random.uniforms(mean.length, -4, 4);
                s[5] = -100f;
                float[] gradLogVar = new float[mean.length];
                Gaussian.logProbAndGrad(shape, mean, x, new Gaussian.LogVariance.PerRow(s), scale, logp, gradMean,
                        gradLogVar);
                Floats g = backend.allocateFloats(mean.length);
                backend.gaussianLoss(shape, upload(mean), upload(x), new Backend.LogVariance.PerRow(upload(s)), scale,
                        glogp, gGradMean, g);
                assertElementwise(gradLogVar, download(g), "gradLogVar", random);
            }
        }
        assertElementwise(gradMean, download(gGradMean), "gradMean", random);
        double[] rows = new double[samples * batch];
        java.util.Arrays.fill(rows, 1e3 * dims);
        float[] actual = download(glogp);
        for (int r = 0; r < rows.length; r++) {
            assertTrue(Float.isFinite(actual[r]), random.tag() + ": logProb[" + r + "] = " + actual[r]);
        }
        assertClose(logp, actual, rows, "logProb", random);
    }

    @Test
    void iwaeBoundMatchesTheReference(TestRandom random) {
        int samples = 37;
        int batch = 11;
        float[] logPx = random.uniforms(samples * batch, -10000, -100);
        float[] ratio = random.normals(samples * batch, 5);
        float[] weights = new float[samples * batch];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = logPx[i] + ratio[i];
        }
        float[] bound = new float[batch];
        Iwae.bound(new SampleShape(samples, batch), weights, bound);
        Floats out = backend.allocateFloats(batch);
        backend.iwaeBound(new SampleShape(samples, batch), upload(logPx), upload(ratio), out);
        assertElementwise(bound, download(out), "bound", random);
    }

    @Test
    void gatherBinarizesWithTheSpecsStream(TestRandom random) {
        int rows = 50;
        int dims = 29;
        byte[] pixels = random.pixels(rows * dims);
        int[] order = new int[40];
        for (int i = 0; i < order.length; i++) {
            order[i] = random.nextInt(rows);
        }
        long seed = random.nextLong();
        int step = random.nextInt(1000);
        Backend.Bytes data = backend.allocateBytes(pixels.length);
        backend.upload(pixels, data);
        Backend.Ints indices = backend.allocateInts(order.length);
        backend.upload(order, indices);
        Backend.StepState state = backend.allocateState();
        int cursor = 7;
        int batch = 30;
        backend.writeState(state, new StepStatus(step, 0, cursor, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
        for (boolean binarize : new boolean[] {false, true}) {
            Floats x = backend.allocateFloats(batch * dims);
            backend.gatherRows(data, dims, indices, state, batch, binarize, seed, x);
            float[] actual = download(x);
            for (int i = 0; i < batch; i++) {
                for (int d = 0; d < dims; d++) {
                    float value = (pixels[order[cursor + i] * dims + d] & 0xFF) / 255f;
                    float expected = !binarize ? value
                            : Philox.uniformAt(seed, step, Philox.STREAM_BINARIZATION, (long) i * dims + d) <= value
                                    ? 1f : 0f;
                    assertEquals(expected, actual[i * dims + d], random.tag() + ": x[" + i + "][" + d + "]");
                }
            }
        }
    }

    @Test
    void adamAndTheNormMatchTheReferenceAndTheGuardSkips(TestRandom random) {
        int n = 100_003;
        float[] params = random.normals(n, 1);
        float[] grads = random.normals(n, 0.01);
        float[] m = random.normals(n, 0.001);
        float[] v = random.uniforms(n, 0, 1e-4);
        AdamSettings settings = AdamSettings.defaults().withMaxGradNorm(1.5f).withWeightDecay(0.01f, true);
        double norm = GradientNorm.l2(grads);
        Floats gp = upload(params);
        Floats gg = upload(grads);
        Floats gm = upload(m);
        Floats gv = upload(v);
        Backend.StepState state = backend.allocateState();
        StepStatus start = new StepStatus(9, 4, 0, 0, 0, 1.5f, 0, 0, 0, 0, 0, 0, 0, 0);
        backend.writeState(state, start);
        backend.gradientNorm(gg, state);
        float gpuNorm = backend.readState(state).gradientNorm();
        assertEquals(norm, gpuNorm, 1e-6 * norm, random.tag() + ": gradient norm");
        Adam.step(settings, 5, Adam.clipScale(settings, gpuNorm), params, grads, m, v);
        backend.adam(settings, state, gp, gg, gm, gv);
        assertElementwise(params, download(gp), "parameters", random);
        assertElementwise(m, download(gm), "m", random);
        assertElementwise(v, download(gv), "v", random);
        assertEquals(5, backend.readState(state).updates());

        // A non-finite gradient: the norm says so and the step changes nothing but the counters.
        float[] before = download(gp);
        grads[12345] = Float.NaN;
        backend.upload(grads, gg);
        backend.gradientNorm(gg, state);
        assertTrue(Float.isNaN(backend.readState(state).gradientNorm()));
        backend.adam(settings, state, gp, gg, gm, gv);
        assertEquals(java.util.Arrays.toString(before), java.util.Arrays.toString(download(gp)));
        StepStatus after = backend.readState(state);
        assertEquals(5, after.updates());
        assertEquals(1, after.skipped());
        assertEquals(1, after.skippedInARow());
    }

    @Test
    void lossTotalsApplyWarmupAndFreeBits(TestRandom random) {
        int batch = 16;
        int latent = 4;
        LatentShape shape = LatentShape.of(batch, latent);
        float[] muLogvar = random.normals(batch * 2 * latent, 1.0);
        for (int b = 0; b < batch; b++) {
            muLogvar[b * 2 * latent] = 0f; // dimension 0: KL 0 in every row, held by free bits
            muLogvar[b * 2 * latent + latent] = 0f;
        }
        float[] kl = new float[batch];
        Reparameterization.kl(shape, muLogvar, kl);
        float[] logp = random.uniforms(batch, -300, -100);
        Backend.StepState state = backend.allocateState();
        backend.writeState(state, StepStatus.initial().atStep(50));
        KlSchedule schedule = new KlSchedule(2f, 200, 0.5f);
        Floats weights = backend.allocateFloats(latent);
        backend.lossTotals(state, schedule, shape, upload(muLogvar), upload(logp), upload(kl), weights);
        float beta = schedule.betaAt(50);
        assertEquals(0.5f, beta);
        double[] klDim = new double[latent];
        for (int b = 0; b < batch; b++) {
            for (int l = 0; l < latent; l++) {
                double mu = muLogvar[b * 2 * latent + l];
                double lv = muLogvar[b * 2 * latent + latent + l];
                klDim[l] += 0.5 * (mu * mu + Math.exp(lv) - 1 - lv) / batch;
            }
        }
        double term = 0;
        float[] w = download(weights);
        for (int l = 0; l < latent; l++) {
            term += Math.max(0.5, klDim[l]);
            assertEquals(klDim[l] < 0.5 ? 0f : beta / batch, w[l], 1e-9, "klWeights[" + l + "]");
        }
        assertEquals(0f, w[0]);
        double meanLogp = 0;
        double meanKl = 0;
        for (int b = 0; b < batch; b++) {
            meanLogp += logp[b] / (double) batch;
            meanKl += kl[b] / (double) batch;
        }
        StepStatus status = backend.readState(state);
        assertEquals(-meanLogp + beta * term, status.loss(), 1e-4);
        assertEquals(meanLogp - meanKl, status.elbo(), 1e-4);
        assertEquals(1, status.summedSteps());
    }

    @Test
    void badArgumentsAreRefusedWithClearMessages() {
        Floats small = backend.allocateFloats(10);
        IllegalArgumentException precision = assertThrows(IllegalArgumentException.class,
                () -> backend.gemm(GemmPrecision.TF32, false, false, 2, 2, 2, 1f, small, 2, small, 2, 0f,
                        backend.allocateFloats(4), 2));
        assertTrue(precision.getMessage().contains("TF32") && precision.getMessage().contains("FP32 only"),
                precision.getMessage());
        IllegalArgumentException size = assertThrows(IllegalArgumentException.class,
                () -> backend.gemm(GemmPrecision.FP32, false, false, 4, 4, 4, 1f, small, 4, small, 4, 0f,
                        backend.allocateFloats(16), 4));
        assertTrue(size.getMessage().contains("A has 10 floats but needs 16"), size.getMessage());
        try (CpuBackend other = CpuBackend.create(1)) {
            Floats foreign = other.allocateFloats(4);
            IllegalArgumentException owner = assertThrows(IllegalArgumentException.class,
                    () -> backend.upload(new float[4], foreign));
            assertTrue(owner.getMessage().contains("not a buffer of this CPU backend"), owner.getMessage());
        }
        Floats closed = backend.allocateFloats(4);
        closed.close();
        IllegalStateException after = assertThrows(IllegalStateException.class,
                () -> backend.upload(new float[4], closed));
        assertTrue(after.getMessage().contains("closed"), after.getMessage());
        assertEquals("threads must be 1 to 256 but is 257",
                assertThrows(IllegalArgumentException.class, () -> CpuBackend.create(257)).getMessage());
        IllegalArgumentException slice = assertThrows(IllegalArgumentException.class, () -> small.slice(8, 3));
        assertTrue(slice.getMessage().contains("outside"), slice.getMessage());

        // Closing a view leaves its root open; closing the root closes every view of it.
        Floats whole = backend.allocateFloats(8);
        Floats view = whole.slice(2, 4);
        view.close();
        backend.upload(new float[4], whole.slice(2, 4));
        whole.close();
        assertThrows(IllegalStateException.class, () -> backend.upload(new float[4], view));
        Backend.Ints ints = backend.allocateInts(3);
        ints.close();
        assertTrue(assertThrows(IllegalStateException.class, () -> backend.upload(new int[3], ints)).getMessage()
                .contains("destination is closed"));
        Backend.Bytes bytes = backend.allocateBytes(3);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> backend.upload(new byte[4], bytes))
                .getMessage().contains("the host array has 4 elements but the buffer 3"));
    }
}
