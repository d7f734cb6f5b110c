package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.KernelAssertions.assertBitIdentical;
import static dev.elbo4j.kernels.KernelAssertions.assertElementwise;
import static dev.elbo4j.kernels.KernelAssertions.assertRowSums;
import static dev.elbo4j.kernels.KernelAssertions.assertStillPoisoned;
import static dev.elbo4j.kernels.KernelAssertions.poisoned;
import static dev.elbo4j.kernels.KernelAssertions.upload;
import static org.junit.jupiter.api.Assertions.assertThrows;

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
import dev.elbo4j.shape.SampleShape;

/**
 * The importance-weighted bound, fused ({@link IwaeKernels}) and unfused ({@link UnfusedElbo}), against the CPU
 * reference: log weights near -1e4, K = 1 (where the bound is the single weight), rows of -inf, +inf and NaN, and
 * the whole chain from the latent forward's log-density ratio.
 */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, TestRandom.Extension.class})
class IwaeKernelsTest {
    private static final double LOG_TWO_PI = Math.log(2 * Math.PI);
    /** {K, B}: K around the kernel's 8 sample groups and B around its 32 rows per block (merges and tails). */
    private static final int[][] SHAPES = {{1, 1}, {1, 9}, {2, 1}, {7, 5}, {64, 3}, {5, 300}, {300, 2}, {9, 33}, {67, 70}};

    private final CudaContext cuda;
    private final IwaeKernels fused;

    IwaeKernelsTest(CudaContext cuda) {
        this.cuda = cuda;
        this.fused = new IwaeKernels(cuda);
    }

    private record Result(float[] logWeights, float[] bound) {
    }

    private Result run(Path path, float[] logPx, float[] logRatio, SampleShape shape) {
        try (DeviceBuffer px = upload(cuda, logPx); DeviceBuffer ratio = upload(cuda, logRatio);
             DeviceBuffer logWeights = poisoned(cuda, shape.rows());
             DeviceBuffer bound = poisoned(cuda, shape.batch())) {
            switch (path) {
                case FUSED -> fused.bound(null, shape, px, ratio, logWeights, bound);
                case UNFUSED -> {
                    try (UnfusedElbo unfused = unfused(shape)) {
                        unfused.iwaeBound(null, shape, px, ratio, logWeights, bound);
                        cuda.synchronize();
                    }
                }
            }
            return new Result(logWeights.toFloatArray(), bound.toFloatArray());
        }
    }

    /** The log weights as the reference rounds them: {@code (float) (logPx + logRatio)}. */
    private static float[] referenceWeights(float[] logPx, float[] logRatio) {
        float[] out = new float[logPx.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) ((double) logPx[i] + logRatio[i]);
        }
        return out;
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void boundMatchesTheReferenceForWeightsNearMinus10000(Path path, TestRandom random) {
        for (int[] shape : SHAPES) {
            int samples = shape[0], batch = shape[1];
            SampleShape sampleShape = new SampleShape(samples, batch);
            String where = path + " " + sampleShape;
            float[] logPx = random.normals(samples * batch, 30);
            for (int i = 0; i < logPx.length; i++) {
                logPx[i] -= 10_000f;
            }
            float[] logRatio = random.normals(samples * batch, 5);
            Result gpu = run(path, logPx, logRatio, sampleShape);
            float[] logWeights = referenceWeights(logPx, logRatio);
            float[] bound = new float[batch];
            Iwae.bound(sampleShape, logWeights, bound);
            // Both round logPx + logRatio once from double: the same bits.
            assertBitIdentical(where + ": log weights", gpu.logWeights(), logWeights);
            assertElementwise(where + ": bound", gpu.bound(), bound);
            if (samples == 1) {
                assertBitIdentical(where + ": the bound of one sample is its log weight", gpu.bound(), logWeights);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void infiniteAndNanWeightsGiveTheReferencesAnswer(Path path) {
        int samples = 3, batch = 5;
        float inf = Float.POSITIVE_INFINITY;
        // Columns are rows b: all -inf; one +inf; one NaN; a weight 200 nats below the other (underflows, no NaN);
        // ordinary.
        float[] logPx = {
                -inf, -1e4f, -1e4f, -1e4f, -50f,
                -inf, inf, Float.NaN, -1e4f - 200f, -51f,
                -inf, -1e4f, -1e4f, -1e4f - 200f, -52f};
        float[] logRatio = new float[samples * batch];
        SampleShape shape = new SampleShape(samples, batch);
        Result gpu = run(path, logPx, logRatio, shape);
        float[] bound = new float[batch];
        Iwae.bound(shape, referenceWeights(logPx, logRatio), bound);
        assertElementwise(path + ": bounds of -inf, +inf, NaN and ordinary rows", gpu.bound(), bound);
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void theChainFromTheLatentForwardMatchesTheReferenceLogWeights(Path path, TestRandom random) {
        int batch = 6, latent = 5, rowStride = 10, samples = 8;
        LatentShape shape = new LatentShape(samples, batch, latent, rowStride);
        float[] muLogvar = random.normals(batch * rowStride, 1.5);
        float[] logvars = random.logvars(batch * latent);
        for (int b = 0; b < batch; b++) {
            System.arraycopy(logvars, b * latent, muLogvar, b * rowStride + latent, latent);
        }
        long seed = random.nextLong();
        int offset = random.nextInt(1 << 30);
        float[] logPx = random.uniforms(samples * batch, -700, -50);
        float[] expected = new float[samples * batch];
        Iwae.logWeights(shape, muLogvar, logPx, seed, offset, expected);

        float[] logRatio;
        try (DeviceBuffer input = upload(cuda, muLogvar); DeviceBuffer z = poisoned(cuda, samples * batch * latent);
             DeviceBuffer ratio = poisoned(cuda, samples * batch)) {
            switch (path) {
                case FUSED -> new LatentKernels(cuda).forward(null, shape, input, seed, offset, z, null, ratio);
                case UNFUSED -> {
                    try (UnfusedElbo unfused = new UnfusedElbo(cuda, shape, LikelihoodShape.of(batch, 1))) {
                        unfused.latentForward(null, shape, input, seed, offset, z, null, ratio);
                        cuda.synchronize();
                    }
                }
            }
            logRatio = ratio.toFloatArray();
        }
        Result gpu = run(path, logPx, logRatio, shape.sampleShape());

        double[] magnitudes = new double[samples * batch];
        float[] z = new float[samples * batch * latent];
        Reparameterization.forward(shape, muLogvar, seed, offset, z, new float[batch]);
        float[] eps = new float[samples * batch * latent];
        Philox.normals(seed, offset, Philox.STREAM_REPARAMETERIZATION, 0, eps);
        for (int r = 0; r < samples * batch; r++) {
            magnitudes[r] = Math.abs(logPx[r]);
            for (int l = 0; l < latent; l++) {
                double zv = z[r * latent + l];
                double e = eps[r * latent + l];
                double logvar = muLogvar[(r % batch) * rowStride + latent + l];
                magnitudes[r] += 0.5 * Math.abs(zv * zv + LOG_TWO_PI) + 0.5 * Math.abs(e * e + LOG_TWO_PI + logvar);
            }
        }
        assertRowSums(path + ": log weights from the latent forward", gpu.logWeights(), expected, magnitudes);
    }

    @Test
    void refusedCallsThrowBeforeAnyLaunch(TestRandom random) {
        int samples = 4, batch = 3;
        SampleShape shape = new SampleShape(samples, batch);
        try (DeviceBuffer px = upload(cuda, random.normals(samples * batch, 1));
             DeviceBuffer ratio = upload(cuda, random.normals(samples * batch - 1, 1));
             DeviceBuffer weights = poisoned(cuda, samples * batch); DeviceBuffer bound = poisoned(cuda, batch);
             UnfusedElbo unfused = unfused(shape)) {
            List<Runnable> refused = List.of(
                    () -> fused.bound(null, shape, px, ratio, weights, bound),
                    () -> fused.bound(null, null, px, px, weights, bound),
                    () -> fused.bound(null, shape, px, px, px, bound),
                    () -> fused.bound(null, shape, px, px, weights, weights.sliceFloats(0, batch)),
                    () -> unfused.iwaeBound(null, shape, px, ratio, weights, bound),
                    () -> unfused.iwaeBound(null, shape.withSamples(samples + 1), px, px, weights, bound));
            for (int i = 0; i < refused.size(); i++) {
                int call = i;
                assertThrows(RuntimeException.class, refused.get(i)::run, "call " + call);
            }
            assertStillPoisoned("logWeights", weights.toFloatArray());
            assertStillPoisoned("bound", bound.toFloatArray());
        }
    }

    /** An unfused baseline with room for the bound of {@code shape}. */
    private UnfusedElbo unfused(SampleShape shape) {
        return new UnfusedElbo(cuda, LatentShape.of(shape.batch(), 1).withSamples(shape.samples()),
                LikelihoodShape.of(shape.batch(), 1).withSamples(shape.samples()));
    }
}
