package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.KernelAssertions.assertBitIdentical;
import static dev.elbo4j.kernels.KernelAssertions.assertElementwise;
import static dev.elbo4j.kernels.KernelAssertions.assertRowSums;
import static dev.elbo4j.kernels.KernelAssertions.assertStillPoisoned;
import static dev.elbo4j.kernels.KernelAssertions.poisoned;
import static dev.elbo4j.kernels.KernelAssertions.upload;
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
import dev.elbo4j.reference.Gaussian;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;

/**
 * The Gaussian loss and gradients in the three log-variance modes, fused ({@link GaussianKernels}) and unfused
 * ({@link UnfusedElbo}), against the CPU reference: log-variances in [-20, 10], D = 1, D = 783, B = 1, K > 1,
 * and row counts on both sides of the 16-row blocks whose partial sums the per-dimension gradient adds up.
 */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, TestRandom.Extension.class})
class GaussianKernelsTest {
    private static final double LOG_TWO_PI = Math.log(2 * Math.PI);

    /** {K, B, D}. */
    private static final int[][] SHAPES = {{1, 1, 1}, {1, 1, 783}, {1, 3, 784}, {2, 5, 783}, {3, 2, 4}, {1, 17, 130},
            {2, 33, 3}, {1, 70, 260}};

    enum Mode {
        FIXED, PER_DIMENSION, PER_ROW
    }

    private final CudaContext cuda;
    private final GaussianKernels fused;

    GaussianKernelsTest(CudaContext cuda) {
        this.cuda = cuda;
        this.fused = new GaussianKernels(cuda);
    }

    static Stream<Arguments> variants() {
        List<Arguments> out = new ArrayList<>();
        for (Path path : Path.values()) {
            for (Mode mode : Mode.values()) {
                out.add(Arguments.of(path, mode, true));
                out.add(Arguments.of(path, mode, false));
            }
        }
        return out.stream();
    }

    private record Inputs(float[] mean, float[] x, float fixed, float[] logVar) {
        static Inputs random(TestRandom random, Mode mode, int samples, int batch, int dims) {
            int rows = samples * batch;
            return new Inputs(random.normals(rows * dims, 1.0), random.normals(batch * dims, 1.0),
                    (float) random.uniform(-20, 10),
                    switch (mode) {
                        case FIXED -> null;
                        case PER_DIMENSION -> random.logvars(dims);
                        case PER_ROW -> random.logvars(rows * dims);
                    });
        }

        Gaussian.LogVariance reference(Mode mode) {
            return switch (mode) {
                case FIXED -> new Gaussian.LogVariance.Fixed(fixed);
                case PER_DIMENSION -> new Gaussian.LogVariance.PerDimension(logVar);
                case PER_ROW -> new Gaussian.LogVariance.PerRow(logVar);
            };
        }

        /** s of element d of mean row r. */
        double logVarAt(Mode mode, int r, int d, int dims) {
            return switch (mode) {
                case FIXED -> fixed;
                case PER_DIMENSION -> logVar[d];
                case PER_ROW -> logVar[r * dims + d];
            };
        }
    }

    private record Result(float[] logProb, float[] gradMean, float[] gradLogVar) {
    }

    private Result run(Path path, Mode mode, Inputs in, LikelihoodShape shape, float gradScale, boolean withGrad) {
        int rows = (int) shape.sampleShape().rows();
        int dims = shape.dims();
        int logVarGradCount = mode == Mode.PER_DIMENSION ? dims : rows * dims;
        boolean withLogVarGrad = withGrad && mode != Mode.FIXED;
        try (DeviceBuffer mean = upload(cuda, in.mean()); DeviceBuffer x = upload(cuda, in.x());
             DeviceBuffer logVarValues = in.logVar() == null ? null : upload(cuda, in.logVar());
             DeviceBuffer logProb = poisoned(cuda, rows);
             DeviceBuffer gradMean = withGrad ? poisoned(cuda, (long) rows * dims) : null;
             DeviceBuffer gradLogVar = withLogVarGrad ? poisoned(cuda, logVarGradCount) : null;
             DeviceBuffer workspace = poisoned(cuda, GaussianKernels.workspaceFloats(shape))) {
            GaussianKernels.LogVariance logVar = switch (mode) {
                case FIXED -> new GaussianKernels.LogVariance.Fixed(in.fixed());
                case PER_DIMENSION -> new GaussianKernels.LogVariance.PerDimension(logVarValues);
                case PER_ROW -> new GaussianKernels.LogVariance.PerRow(logVarValues);
            };
            switch (path) {
                case FUSED -> fused.lossAndGradient(null, shape, mean, x, logVar, gradScale, logProb, gradMean,
                        gradLogVar, workspace);
                case UNFUSED -> {
                    try (UnfusedElbo unfused = unfused(shape)) {
                        unfused.gaussianLossAndGradient(null, shape, mean, x, logVar, gradScale, logProb, gradMean,
                                gradLogVar);
                        cuda.synchronize();
                    }
                }
            }
            return new Result(logProb.toFloatArray(), withGrad ? gradMean.toFloatArray() : null,
                    withLogVarGrad ? gradLogVar.toFloatArray() : null);
        }
    }

    @ParameterizedTest(name = "{0} {1} gradients={2}")
    @MethodSource("variants")
    void lossAndGradientsMatchTheReference(Path path, Mode mode, boolean withGrad, TestRandom random) {
        for (int[] shape : SHAPES) {
            int samples = shape[0], batch = shape[1], dims = shape[2];
            int rows = samples * batch;
            LikelihoodShape likelihoodShape = new LikelihoodShape(samples, batch, dims);
            String where = path + " " + mode + " " + likelihoodShape;
            Inputs in = Inputs.random(random, mode, samples, batch, dims);
            float gradScale = 1f / rows;
            float[] logProb = new float[rows];
            float[] gradMean = new float[rows * dims];
            float[] gradLogVar = mode == Mode.FIXED ? null : new float[mode == Mode.PER_DIMENSION ? dims : rows * dims];
            Gaussian.logProbAndGrad(likelihoodShape, in.mean(), in.x(), in.reference(mode), gradScale, logProb,
                    gradMean, gradLogVar);

            Result gpu = run(path, mode, in, likelihoodShape, gradScale, withGrad);
            double[] rowMagnitudes = new double[rows];
            double[] columnMagnitudes = new double[dims];
            for (int r = 0; r < rows; r++) {
                for (int d = 0; d < dims; d++) {
                    double s = in.logVarAt(mode, r, d, dims);
                    double diff = (double) in.x()[(r % batch) * dims + d] - in.mean()[r * dims + d];
                    double weightedSquare = diff * diff * Math.exp(-s);
                    rowMagnitudes[r] += 0.5 * Math.abs(LOG_TWO_PI + s + weightedSquare);
                    columnMagnitudes[d] += Math.abs(gradScale * 0.5 * (1 - weightedSquare));
                }
            }
            assertRowSums(where + ": logProb", gpu.logProb(), logProb, rowMagnitudes);
            if (withGrad) {
                assertElementwise(where + ": gradMean", gpu.gradMean(), gradMean);
                switch (mode) {
                    case FIXED -> {
                    }
                    case PER_DIMENSION -> assertRowSums(where + ": gradLogVar (summed over the K*B rows)",
                            gpu.gradLogVar(), gradLogVar, columnMagnitudes);
                    case PER_ROW -> assertElementwise(where + ": gradLogVar", gpu.gradLogVar(), gradLogVar);
                }
            }
        }
    }

    /** Log-variances around every float and double overflow of exp(-s) and exp(-s/2), and ordinary ones. */
    private static final float[] EXTREME_LOGVARS = {-1e4f, -1000f, -709.9f, -200f, -177.5f, -100f, -88.8f, -88.7f,
            -20f, 0f, 10f, 87.4f, 100f, 150f, 200f, 750f};
    /** m - x: exactly 0, tiny (its square underflows a float), ordinary, large (its square overflows a float). */
    private static final float[] DIFFS = {0f, 1e-30f, -1e-10f, 0.5f, -3f, 1e15f, 1e30f, -3e38f};

    /**
     * Every finite input gives the reference's answer, finite wherever the formula's value is: a collapsed
     * dimension (s = -100, x = m) gave NaN on the device where the reference gives 49.08, and with a per-dimension
     * log-variance one such column made the whole batch NaN. Rows are the differences m - x (x = 0 or a normal value
     * with m = x), columns the log-variances; the fixed mode runs every log-variance in turn.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("modes")
    void extremeLogVariancesGiveTheReferencesAnswer(Path path, Mode mode, TestRandom random) {
        int dims = EXTREME_LOGVARS.length;
        int batch = DIFFS.length + 1;
        float[] x = new float[batch * dims];
        float[] mean = new float[batch * dims];
        for (int b = 0; b < DIFFS.length; b++) {
            Arrays.fill(mean, b * dims, (b + 1) * dims, DIFFS[b]);
        }
        for (int d = 0; d < dims; d++) {
            // The last row: m = x at ordinary values.
            x[DIFFS.length * dims + d] = random.normals(1, 1.0)[0];
            mean[DIFFS.length * dims + d] = x[DIFFS.length * dims + d];
        }
        float[][] logVarCases = switch (mode) {
            case FIXED -> new float[EXTREME_LOGVARS.length][];
            case PER_DIMENSION -> new float[][] {EXTREME_LOGVARS};
            case PER_ROW -> {
                float[] perRow = new float[batch * dims];
                for (int b = 0; b < batch; b++) {
                    System.arraycopy(EXTREME_LOGVARS, 0, perRow, b * dims, dims);
                }
                yield new float[][] {perRow};
            }
        };
        LikelihoodShape shape = LikelihoodShape.of(batch, dims);
        for (int c = 0; c < logVarCases.length; c++) {
            float fixed = mode == Mode.FIXED ? EXTREME_LOGVARS[c] : 0f;
            Inputs in = new Inputs(mean, x, fixed, logVarCases[c]);
            String where = path + " " + mode + (mode == Mode.FIXED ? " s = " + fixed : "");
            float gradScale = 1f / batch;
            float[] logProb = new float[batch];
            float[] gradMean = new float[batch * dims];
            float[] gradLogVar = mode == Mode.FIXED ? null : new float[mode == Mode.PER_DIMENSION ? dims : batch * dims];
            Gaussian.logProbAndGrad(shape, mean, x, in.reference(mode), gradScale, logProb, gradMean, gradLogVar);
            Result gpu = run(path, mode, in, shape, gradScale, true);
            double[] rowMagnitudes = new double[batch];
            double[] columnMagnitudes = new double[dims];
            for (int r = 0; r < batch; r++) {
                for (int d = 0; d < dims; d++) {
                    double s = in.logVarAt(mode, r, d, dims);
                    double diff = (double) x[r * dims + d] - mean[r * dims + d];
                    double weightedSquare = diff == 0 ? 0 : diff * diff * Math.exp(-s);
                    rowMagnitudes[r] += 0.5 * Math.abs(LOG_TWO_PI + s + weightedSquare);
                    columnMagnitudes[d] += Math.abs(gradScale * 0.5 * (1 - weightedSquare));
                }
            }
            for (int r = 0; r < batch; r++) {
                if (DIFFS.length == r || DIFFS[r] == 0f) {
                    assertTrue(Float.isFinite(logProb[r]), where + ": the reference is finite at x = m");
                }
            }
            assertRowSums(where + ": logProb", gpu.logProb(), logProb, rowMagnitudes);
            assertElementwise(where + ": gradMean", gpu.gradMean(), gradMean);
            switch (mode) {
                case FIXED -> {
                }
                case PER_DIMENSION -> assertRowSums(where + ": gradLogVar (summed over the rows)", gpu.gradLogVar(),
                        gradLogVar, columnMagnitudes);
                case PER_ROW -> assertElementwise(where + ": gradLogVar", gpu.gradLogVar(), gradLogVar);
            }
        }
    }

    static Stream<Arguments> modes() {
        List<Arguments> out = new ArrayList<>();
        for (Path path : Path.values()) {
            for (Mode mode : Mode.values()) {
                out.add(Arguments.of(path, mode));
            }
        }
        return out.stream();
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void theSameInputsGiveTheSameBits(Path path, TestRandom random) {
        int samples = 2, batch = 41, dims = 783;
        Inputs in = Inputs.random(random, Mode.PER_DIMENSION, samples, batch, dims);
        LikelihoodShape shape = new LikelihoodShape(samples, batch, dims);
        Result first = run(path, Mode.PER_DIMENSION, in, shape, 1f / batch, true);
        Result second = run(path, Mode.PER_DIMENSION, in, shape, 1f / batch, true);
        assertBitIdentical(path + " logProb", first.logProb(), second.logProb());
        assertBitIdentical(path + " gradMean", first.gradMean(), second.gradMean());
        assertBitIdentical(path + " gradLogVar", first.gradLogVar(), second.gradLogVar());
    }

    @Test
    void refusedCallsThrowBeforeAnyLaunch(TestRandom random) {
        int samples = 2, batch = 20, dims = 10;
        int rows = samples * batch;
        LikelihoodShape shape = new LikelihoodShape(samples, batch, dims);
        try (DeviceBuffer mean = upload(cuda, random.normals(rows * dims, 1));
             DeviceBuffer x = upload(cuda, random.normals(batch * dims, 1));
             DeviceBuffer perDim = upload(cuda, random.logvars(dims));
             DeviceBuffer logProb = poisoned(cuda, rows); DeviceBuffer gradMean = poisoned(cuda, rows * dims);
             DeviceBuffer gradLogVar = poisoned(cuda, dims);
             DeviceBuffer workspace = poisoned(cuda, GaussianKernels.workspaceFloats(shape));
             DeviceBuffer smallWorkspace = poisoned(cuda, GaussianKernels.workspaceFloats(shape) - 1);
             UnfusedElbo unfused = unfused(shape)) {
            var fixed = new GaussianKernels.LogVariance.Fixed(0f);
            var perDimension = new GaussianKernels.LogVariance.PerDimension(perDim);
            var perRowTooSmall = new GaussianKernels.LogVariance.PerRow(perDim);
            LikelihoodShape widerRows = new LikelihoodShape(samples, batch, dims + 1);
            List<Runnable> refused = List.of(
                    () -> fused.lossAndGradient(null, null, mean, x, fixed, 1f, logProb, gradMean, null, null),
                    () -> fused.lossAndGradient(null, widerRows, mean, x, fixed, 1f, logProb, gradMean, null, null),
                    () -> fused.lossAndGradient(null, shape, mean, x, fixed, 1f, logProb, gradMean, gradLogVar, null),
                    () -> fused.lossAndGradient(null, shape, mean, x, new GaussianKernels.LogVariance.Fixed(Float.NaN),
                            1f, logProb, gradMean, null, null),
                    () -> fused.lossAndGradient(null, shape, mean, x, perRowTooSmall, 1f, logProb, gradMean, null,
                            null),
                    // The per-dimension gradient is two launches: a workspace too small must stop the first.
                    () -> fused.lossAndGradient(null, shape, mean, x, perDimension, 1f, logProb, gradMean, gradLogVar,
                            smallWorkspace),
                    () -> fused.lossAndGradient(null, shape, mean, x, perDimension, 1f, logProb, gradMean, gradLogVar,
                            null),
                    () -> fused.lossAndGradient(null, shape, mean, x, perDimension, 1f, logProb, gradMean, perDim,
                            workspace),
                    () -> fused.lossAndGradient(null, shape, mean, x, null, 1f, logProb, gradMean, null, null),
                    () -> unfused.gaussianLossAndGradient(null, shape, mean, x, perRowTooSmall, 1f, logProb, gradMean,
                            null),
                    () -> unfused.gaussianLossAndGradient(null, new LikelihoodShape(samples, batch + 1, dims), mean, x,
                            fixed, 1f, logProb, gradMean, null));
            for (int i = 0; i < refused.size(); i++) {
                int call = i;
                assertThrows(RuntimeException.class, refused.get(i)::run, "call " + call);
            }
            assertStillPoisoned("logProb", logProb.toFloatArray());
            assertStillPoisoned("gradMean", gradMean.toFloatArray());
            assertStillPoisoned("gradLogVar", gradLogVar.toFloatArray());
        }
    }

    /** An unfused baseline with room for the likelihood calls of {@code shape}. */
    private UnfusedElbo unfused(LikelihoodShape shape) {
        return new UnfusedElbo(cuda, LatentShape.of(shape.batch(), 1).withSamples(shape.samples()), shape);
    }
}
