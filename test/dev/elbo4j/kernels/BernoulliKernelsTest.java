package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.KernelAssertions.assertBitIdentical;
import static dev.elbo4j.kernels.KernelAssertions.assertElementwise;
import static dev.elbo4j.kernels.KernelAssertions.assertRowSums;
import static dev.elbo4j.kernels.KernelAssertions.assertStillPoisoned;
import static dev.elbo4j.kernels.KernelAssertions.poisoned;
import static dev.elbo4j.kernels.KernelAssertions.upload;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.reference.Bernoulli;
import dev.elbo4j.reference.BinarizationCorner;
import dev.elbo4j.reference.Philox;
import dev.elbo4j.reference.Targets;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;

/**
 * The Bernoulli loss and gradient, fused ({@link BernoulliKernels}) and unfused ({@link UnfusedElbo}), against the
 * CPU reference: logits beyond +-30 (and +-100, 0 exactly), x exactly 0 and 1, float and pixel data, with and
 * without binarization, D = 1, D = 783, B = 1, K > 1.
 */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, TestRandom.Extension.class})
class BernoulliKernelsTest {
    /** {K, B, D}. */
    private static final int[][] SHAPES = {{1, 1, 1}, {1, 1, 783}, {1, 3, 784}, {2, 5, 783}, {3, 2, 4}, {1, 7, 130},
            {2, 9, 3}};

    private final CudaContext cuda;
    private final BernoulliKernels fused;

    BernoulliKernelsTest(CudaContext cuda) {
        this.cuda = cuda;
        this.fused = new BernoulliKernels(cuda);
    }

    static Stream<Arguments> variants() {
        List<Arguments> out = new ArrayList<>();
        for (Path path : Path.values()) {
            for (TargetFormat format : TargetFormat.values()) {
                out.add(Arguments.of(path, format, false));
                out.add(Arguments.of(path, format, true));
            }
        }
        return out.stream();
    }

    /** Random data of one format: the device bytes and the reference's view of them. */
    private record Data(float[] values, byte[] pixels, Targets targets) {
        static Data random(TestRandom random, TargetFormat format, int count) {
            return switch (format) {
                case FLOAT32 -> {
                    float[] values = random.unitValues(count);
                    yield new Data(values, null, Targets.values(values));
                }
                case PIXELS_U8 -> {
                    byte[] pixels = random.pixels(count);
                    yield new Data(null, pixels, Targets.pixels(pixels));
                }
            };
        }

        DeviceBuffer upload(CudaContext cuda) {
            return values != null ? KernelAssertions.upload(cuda, values) : KernelAssertions.upload(cuda, pixels);
        }
    }

    private record Result(float[] logProb, float[] grad) {
    }

    /** Runs one path with poisoned outputs; {@code withGrad} false asks for the log-likelihood alone. */
    private Result run(Path path, LikelihoodShape shape, float[] logits, Data data, TargetFormat format,
                       Binarization binarization, float gradScale, boolean withGrad) {
        try (DeviceBuffer logitBuffer = upload(cuda, logits); DeviceBuffer x = data.upload(cuda);
             DeviceBuffer logProb = poisoned(cuda, shape.sampleShape().rows());
             DeviceBuffer grad = withGrad ? poisoned(cuda, shape.outputElements()) : null) {
            switch (path) {
                case FUSED -> fused.lossAndGradient(null, shape, logitBuffer, x, format, binarization, gradScale,
                        logProb, grad);
                case UNFUSED -> {
                    try (UnfusedElbo unfused = unfused(shape)) {
                        unfused.bernoulliLossAndGradient(null, shape, logitBuffer, x, format, binarization, gradScale,
                                logProb, grad);
                        cuda.synchronize();
                    }
                }
            }
            return new Result(logProb.toFloatArray(), withGrad ? grad.toFloatArray() : null);
        }
    }

    private void checkAgainstReference(Path path, TargetFormat format, boolean binarize, int samples, int batch,
                                       int dims, boolean withGrad, TestRandom random) {
        LikelihoodShape shape = new LikelihoodShape(samples, batch, dims);
        String where = path + " " + format + (binarize ? " binarized " : " ") + shape;
        float[] logits = random.logits(samples * batch * dims);
        Data data = Data.random(random, format, batch * dims);
        Binarization binarization = binarize ? new Binarization(random.nextLong(), random.nextInt(1 << 30)) : null;
        Targets targets = binarize ? data.targets().binarized(binarization.seed(), binarization.offset())
                : data.targets();
        float gradScale = 1f / (samples * batch);

        float[] logProb = new float[samples * batch];
        float[] grad = new float[samples * batch * dims];
        Bernoulli.logProbAndGrad(shape, logits, targets, gradScale, logProb, grad);

        Result gpu = run(path, shape, logits, data, format, binarization, gradScale, withGrad);
        assertRowSums(where + ": logProb", gpu.logProb(), logProb, magnitudes(logits, targets, samples, batch, dims));
        if (withGrad) {
            assertElementwise(where + ": grad", gpu.grad(), grad);
        }
    }

    @ParameterizedTest(name = "{0} {1} binarized={2}")
    @MethodSource("variants")
    void lossAndGradientMatchTheReference(Path path, TargetFormat format, boolean binarize, TestRandom random) {
        for (int[] shape : SHAPES) {
            checkAgainstReference(path, format, binarize, shape[0], shape[1], shape[2], true, random);
        }
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void logProbAloneMatchesTheReference(Path path, TestRandom random) {
        checkAgainstReference(path, TargetFormat.FLOAT32, false, 2, 3, 783, false, random);
        checkAgainstReference(path, TargetFormat.PIXELS_U8, true, 1, 4, 784, false, random);
    }

    /** The MNIST training step: 4096 rows of 784 binarized pixels. */
    @Test
    void aFullBatchOfBinarizedPixelsMatchesTheReference(TestRandom random) {
        checkAgainstReference(Path.FUSED, TargetFormat.PIXELS_U8, true, 1, 4096, 784, true, random);
    }

    @Test
    void aLargerUnfusedBatchMatchesTheReference(TestRandom random) {
        checkAgainstReference(Path.UNFUSED, TargetFormat.FLOAT32, true, 1, 256, 784, true, random);
    }

    @Test
    void misalignedViewsTakeTheScalarPathWithTheSameResults(TestRandom random) {
        int batch = 5, dims = 784;
        LikelihoodShape shape = LikelihoodShape.of(batch, dims);
        float[] logits = random.logits(batch * dims);
        float[] x = random.unitValues(batch * dims);
        float[] logProb = new float[batch];
        float[] grad = new float[batch * dims];
        Bernoulli.logProbAndGrad(shape, logits, Targets.values(x), 1f / batch, logProb, grad);
        float[] padded = new float[logits.length + 1];
        System.arraycopy(logits, 0, padded, 1, logits.length);
        try (DeviceBuffer logitBuffer = upload(cuda, padded); DeviceBuffer xBuffer = upload(cuda, x);
             DeviceBuffer logProbBuffer = poisoned(cuda, batch);
             DeviceBuffer gradBuffer = poisoned(cuda, grad.length)) {
            fused.lossAndGradient(null, shape, logitBuffer.sliceFloats(1, logits.length), xBuffer,
                    TargetFormat.FLOAT32, null, 1f / batch, logProbBuffer, gradBuffer);
            assertRowSums("logProb through a misaligned view", logProbBuffer.toFloatArray(), logProb,
                    magnitudes(logits, Targets.values(x), 1, batch, dims));
            assertElementwise("grad through a misaligned view", gradBuffer.toFloatArray(), grad);
        }
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void theSameInputsGiveTheSameBits(Path path, TestRandom random) {
        int samples = 2, batch = 19, dims = 783;
        LikelihoodShape shape = new LikelihoodShape(samples, batch, dims);
        float[] logits = random.logits(samples * batch * dims);
        Data data = Data.random(random, TargetFormat.PIXELS_U8, batch * dims);
        Binarization binarization = new Binarization(random.nextLong(), random.nextInt(1 << 30));
        Result first = run(path, shape, logits, data, TargetFormat.PIXELS_U8, binarization, 0.25f, true);
        Result second = run(path, shape, logits, data, TargetFormat.PIXELS_U8, binarization, 0.25f, true);
        assertBitIdentical(path + " logProb", first.logProb(), second.logProb());
        assertBitIdentical(path + " grad", first.grad(), second.grad());
    }

    /**
     * Issue 12: where the binarization uniform is exactly 1 ({@link BinarizationCorner}), a target of exactly 1 (float
     * 1 or pixel 255) stays 1 in the fused kernels and the unfused baseline as in the reference ({@code u <= x}); with
     * {@code u < x} it became 0. The binarized target shows in the gradient at logit 0: {@code 0.5 - x}.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("pathsAndFormats")
    void aTargetOfExactlyOneStaysOneWhereTheUniformIsExactlyOne(Path path, TargetFormat format) {
        int dims = 4;
        LikelihoodShape shape = LikelihoodShape.of(1, dims);
        Data ones = format == TargetFormat.FLOAT32
                ? new Data(new float[] {1f, 1f, 1f, 1f}, null, null)
                : new Data(null, new byte[] {(byte) 255, (byte) 255, (byte) 255, (byte) 255}, null);
        Binarization corner = new Binarization(BinarizationCorner.SEED, BinarizationCorner.OFFSET);
        Result gpu = run(path, shape, new float[dims], ones, format, corner, 1f, true);
        assertEquals(1f, Philox.uniformAt(corner.seed(), corner.offset(), Philox.STREAM_BINARIZATION,
                BinarizationCorner.ELEMENT), "the corner's uniform");
        assertArrayEquals(new float[] {-0.5f, -0.5f, -0.5f, -0.5f}, gpu.grad(), "every target binarized to 1");
    }

    /**
     * The rate of ones after binarization is x, in the fused kernels and the unfused baseline: 5 values (0 and 1
     * included) in each of 4096 rows, 8 steps, read back from the gradient at logit 0.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("pathsAndFormats")
    void theRateOfOnesMatchesTheTargetOverManyDraws(Path path, TargetFormat format, TestRandom random) {
        float[] values = {0f, 0.2f, 0.5f, 0.8f, 1f};
        byte[] pixels = {0, (byte) 51, (byte) 128, (byte) 204, (byte) 255};
        int dims = values.length, batch = 4096, steps = 8;
        LikelihoodShape shape = LikelihoodShape.of(batch, dims);
        float[] xValues = new float[batch * dims];
        byte[] xPixels = new byte[batch * dims];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(values, 0, xValues, b * dims, dims);
            System.arraycopy(pixels, 0, xPixels, b * dims, dims);
        }
        Data data = format == TargetFormat.FLOAT32 ? new Data(xValues, null, null) : new Data(null, xPixels, null);
        long seed = random.nextLong();
        double[] ones = new double[dims];
        for (int step = 0; step < steps; step++) {
            float[] grad = run(path, shape, new float[batch * dims], data, format, new Binarization(seed, step), 1f,
                    true).grad();
            for (int i = 0; i < grad.length; i++) {
                ones[i % dims] += grad[i] < 0 ? 1 : 0;
            }
        }
        int draws = batch * steps;
        for (int d = 0; d < dims; d++) {
            double p = format == TargetFormat.FLOAT32 ? values[d] : (pixels[d] & 0xFF) / 255.0;
            double standardError = Math.sqrt(p * (1 - p) / draws);
            assertEquals(p, ones[d] / draws, 5 * standardError + 1e-4, path + " " + format + " x = " + p);
        }
    }

    static Stream<Arguments> pathsAndFormats() {
        List<Arguments> out = new ArrayList<>();
        for (Path path : Path.values()) {
            for (TargetFormat format : TargetFormat.values()) {
                out.add(Arguments.of(path, format));
            }
        }
        return out.stream();
    }

    /**
     * Logits of +-Inf are certain outcomes, defined by the formula's limit identically on the device and in the
     * reference: log p's term is 0 where x is the outcome and -Inf otherwise, the gradient sigmoid - x. The device
     * gave -Inf and NaN where the reference gave NaN and 0.
     */
    @ParameterizedTest
    @EnumSource(Path.class)
    void infiniteLogitsGiveTheReferencesLimits(Path path, TestRandom random) {
        float inf = Float.POSITIVE_INFINITY;
        // Rows: each logit against x = 1, 0 and 0.5, then a finite row with one infinite logit whose x matches.
        float[] logits = {inf, -inf, inf, -inf, inf, -inf, 2.5f, inf, -3f, -inf};
        float[] x = {1f, 0f, 0f, 1f, 0.5f, 0.5f, 0.25f, 1f, 0.75f, 0f};
        int dims = 2;
        LikelihoodShape shape = LikelihoodShape.of(logits.length / dims, dims);
        float[] logProb = new float[shape.batch()];
        float[] grad = new float[logits.length];
        Bernoulli.logProbAndGrad(shape, logits, Targets.values(x), 0.5f, logProb, grad);
        Result gpu = run(path, shape, logits, new Data(x, null, null), TargetFormat.FLOAT32, null, 0.5f, true);
        assertArrayEquals(new float[] {0f, Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}, Arrays.copyOf(logProb, 3),
                "the reference's limits");
        assertTrue(Float.isFinite(logProb[3]), "a matching infinite logit adds 0");
        assertRowSums(path + ": logProb with infinite logits", gpu.logProb(), logProb,
                magnitudes(logits, Targets.values(x), 1, shape.batch(), dims));
        assertElementwise(path + ": grad with infinite logits", gpu.grad(), grad);
    }

    @Test
    void refusedCallsThrowBeforeAnyLaunch(TestRandom random) {
        int samples = 2, batch = 3, dims = 10;
        int rows = samples * batch;
        LikelihoodShape shape = new LikelihoodShape(samples, batch, dims);
        try (DeviceBuffer logits = upload(cuda, random.logits(rows * dims));
             DeviceBuffer x = upload(cuda, random.unitValues(batch * dims));
             DeviceBuffer pixels = upload(cuda, random.pixels(batch * dims - 1));
             DeviceBuffer logProb = poisoned(cuda, rows); DeviceBuffer grad = poisoned(cuda, rows * dims);
             UnfusedElbo unfused = unfused(shape)) {
            TargetFormat f32 = TargetFormat.FLOAT32;
            LikelihoodShape widerRows = new LikelihoodShape(samples, batch, dims + 1);
            List<Runnable> refused = List.of(
                    () -> fused.lossAndGradient(null, null, logits, x, f32, null, 1f, logProb, grad),
                    () -> fused.lossAndGradient(null, widerRows, logits, x, f32, null, 1f, logProb, grad),
                    () -> fused.lossAndGradient(null, shape.withSamples(samples + 1), logits, x, f32, null, 1f, logProb,
                            grad),
                    () -> fused.lossAndGradient(null, shape, logits, pixels, TargetFormat.PIXELS_U8, null, 1f, logProb,
                            grad),
                    () -> fused.lossAndGradient(null, shape, logits, x, f32, null, Float.NaN, logProb, grad),
                    () -> fused.lossAndGradient(null, shape, logits, x, f32, null, 1f, logProb, logits),
                    () -> fused.lossAndGradient(null, shape, logits, x, null, null, 1f, logProb, grad),
                    () -> unfused.bernoulliLossAndGradient(null, widerRows, logits, x, f32, null, 1f, logProb, grad),
                    () -> unfused.bernoulliLossAndGradient(null, shape, logits, x, f32, null, 1f, logProb, x));
            for (int i = 0; i < refused.size(); i++) {
                int call = i;
                assertThrows(RuntimeException.class, refused.get(i)::run, "call " + call);
            }
            DeviceBuffer closed = upload(cuda, random.logits(rows * dims));
            closed.close();
            assertThrows(IllegalStateException.class,
                    () -> fused.lossAndGradient(null, shape, closed, x, f32, null, 1f, logProb, grad));
            assertThrows(IllegalStateException.class,
                    () -> unfused.bernoulliLossAndGradient(null, shape, closed, x, f32, null, 1f, logProb, grad));
            assertStillPoisoned("logProb", logProb.toFloatArray());
            assertStillPoisoned("grad", grad.toFloatArray());
        }
    }

    /** An unfused baseline with room for the likelihood calls of {@code shape}. */
    private UnfusedElbo unfused(LikelihoodShape shape) {
        return new UnfusedElbo(cuda, LatentShape.of(shape.batch(), 1).withSamples(shape.samples()), shape);
    }

    /** sum_d |x_d l_d - softplus(l_d)| per logits row, x after binarization. */
    private static double[] magnitudes(float[] logits, Targets targets, int samples, int batch, int dims) {
        double[] out = new double[samples * batch];
        float[] row = new float[dims];
        for (int b = 0; b < batch; b++) {
            targets.row(b, dims, row);
            for (int k = 0; k < samples; k++) {
                int r = k * batch + b;
                for (int d = 0; d < dims; d++) {
                    double l = logits[r * dims + d];
                    out[r] += Math.abs(Bernoulli.logTerm(row[d], l));
                }
            }
        }
        return out;
    }
}
