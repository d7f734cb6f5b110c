package dev.elbo4j.kernels;

import static dev.elbo4j.cuda.KernelParameter.FLOAT;
import static dev.elbo4j.cuda.KernelParameter.INT;
import static dev.elbo4j.cuda.KernelParameter.NULLABLE_POINTER;
import static dev.elbo4j.cuda.KernelParameter.POINTER;
import static dev.elbo4j.kernels.LaunchChecks.blocks;
import static dev.elbo4j.kernels.LaunchChecks.disjoint;
import static dev.elbo4j.kernels.LaunchChecks.finite;
import static dev.elbo4j.kernels.LaunchChecks.floats;
import static dev.elbo4j.kernels.LaunchChecks.indexable;
import static dev.elbo4j.kernels.LaunchChecks.render;

import java.util.Objects;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaFunction;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.shape.LikelihoodShape;

/**
 * The fused Gaussian reconstruction loss and gradients ({@code kernels/gaussian.cu}): one pass over the means,
 * the data and the log-variance writes the per-row log-likelihood and the gradients of the loss, scaled like
 * {@link BernoulliKernels}'s. A learned per-dimension log-variance sums its gradient over the rows without
 * floating-point atomics: per-block partial sums into a caller's workspace, then a second kernel that adds them
 * in a fixed order.
 *
 * <p>Shapes, all from one {@link LikelihoodShape} (K, B, D): {@code mean} (K*B) x D (row {@code k*B + b} scored
 * against data row {@code b}), {@code x} B x D float32, {@code logProb} K x B, {@code gradMean} (K*B) x D, the
 * log-variance as {@link LogVariance}. Buffers may be larger than their shape needs. Everything is checked before the
 * first launch; the work is enqueued on {@code stream} (null: the legacy default stream).
 */
public final class GaussianKernels {
    static final String LOSS_GRAD = "elbo4j_gaussian_loss_grad";
    static final String LOGVAR_GRAD = "elbo4j_gaussian_logvar_grad";
    private static final int THREADS = 256;
    /** Two rows per warp, eight warps. */
    private static final int ROWS_PER_BLOCK = 16;
    /** The column-sum kernel's block covers 32 columns. */
    private static final int COLUMNS_PER_BLOCK = 32;

    /** The log-variance {@code s} of the likelihood: where it lives decides the shape of its gradient. */
    public sealed interface LogVariance {

        /** One fixed scalar for every element; not learned, so it has no gradient. */
        record Fixed(float value) implements LogVariance {
        }

        /** A learned vector of D values shared by all rows; its gradient (D) sums over the K*B rows. */
        record PerDimension(DeviceBuffer values) implements LogVariance {
            public PerDimension {
                Objects.requireNonNull(values, "values");
            }
        }

        /** A decoder output of (K*B) x D values, like the mean; its gradient is (K*B) x D too. */
        record PerRow(DeviceBuffer values) implements LogVariance {
            public PerRow {
                Objects.requireNonNull(values, "values");
            }
        }
    }

    private final CudaContext context;
    private final CudaFunction lossGrad;
    private final CudaFunction logVarGrad;

    /** Binds the kernels of {@code context}'s module ({@link CudaContext#kernels()}). */
    public GaussianKernels(CudaContext context) {
        this.context = Objects.requireNonNull(context, "context");
        // (mean, x, rows, batch, dims, logvar, logvarFixed, logvarRowStride, gradScale, logProb, gradMean,
        //  gradLogvarRows, logvarPartials)
        this.lossGrad = context.kernels().function(LOSS_GRAD, POINTER, POINTER, INT, INT, INT, NULLABLE_POINTER, FLOAT,
                INT, FLOAT, POINTER, NULLABLE_POINTER, NULLABLE_POINTER, NULLABLE_POINTER);
        // (partials, blocks, dims, gradScale, gradLogvar)
        this.logVarGrad = context.kernels().function(LOGVAR_GRAD, POINTER, INT, INT, POINTER);
    }

    /**
     * Floats of workspace that {@link #lossAndGradient} needs for the gradient of a {@link LogVariance.PerDimension}
     * log-variance: one partial sum per column for each block of 16 rows, {@code ceil(K*B / 16) * D}, exact.
     *
     * @throws IllegalArgumentException when the count exceeds {@code Long.MAX_VALUE} (it never wraps)
     */
    public static long workspaceFloats(LikelihoodShape shape) {
        long rows = shape.sampleShape().rows();
        long blocks = rows / ROWS_PER_BLOCK + (rows % ROWS_PER_BLOCK == 0 ? 0 : 1);
        try {
            return Math.multiplyExact(blocks, shape.dims());
        } catch (ArithmeticException overflow) {
            throw new IllegalArgumentException("the workspace for " + shape + " (ceil(K*B / 16) x D = " + blocks
                    + " x " + shape.dims() + " floats) has more than Long.MAX_VALUE elements");
        }
    }

    /**
     * Per-row log-likelihoods and the gradients of the loss {@code -sum_r w_r log p_r}, {@code w = gradScale}:
     * <pre>
     *   logProb[r]       = -0.5 sum_d [log(2 pi) + s_d + (x_d - m_d)^2 exp(-s_d)]     (nats)
     *   gradMean[r][d]   = gradScale * (m - x) * exp(-s)
     *   gradLogVar       = gradScale * 0.5 * (1 - (x - m)^2 * exp(-s)), per element (PerRow, (K*B) x D)
     *                      or summed over the K*B rows (PerDimension, D)
     * </pre>
     *
     * @param shape      K, B, D
     * @param mean       (K*B) x D
     * @param x          B x D
     * @param logVar     s in one of the three modes
     * @param gradScale  the row weight w: 1/B for a batch mean
     * @param logProb    output, K x B
     * @param gradMean   output, (K*B) x D; null when not wanted
     * @param gradLogVar output, null when not wanted, and always null for {@link LogVariance.Fixed}
     * @param workspace  at least {@link #workspaceFloats} floats when {@code gradLogVar} is wanted for a
     *                   {@link LogVariance.PerDimension} log-variance; else unused and may be null
     */
    public void lossAndGradient(CudaStream stream, LikelihoodShape shape, DeviceBuffer mean, DeviceBuffer x,
                                LogVariance logVar, float gradScale, DeviceBuffer logProb, DeviceBuffer gradMean,
                                DeviceBuffer gradLogVar, DeviceBuffer workspace) {
        Resolved resolved = check(stream, shape, mean, x, logVar, gradScale, logProb, gradMean, gradLogVar, workspace,
                true);
        int rows = (int) shape.sampleShape().rows();
        int dims = shape.dims();
        DeviceBuffer partials = resolved.perDimensionGrad() ? workspace : null;
        int lossBlocks = blocks(rows, ROWS_PER_BLOCK);
        DeviceBuffer gradLogVarRows = logVar instanceof LogVariance.PerRow ? gradLogVar : null;
        lossGrad.launch(stream, lossBlocks, THREADS,
                mean, x, rows, shape.batch(), dims, resolved.values(), resolved.fixed(),
                resolved.rowStride(), gradScale, logProb, gradMean, gradLogVarRows,
                partials);
        if (resolved.perDimensionGrad()) {
            // The partials carry gradScale already (see kernels/gaussian.cu): the sum is not scaled again.
            logVarGrad.launch(stream, blocks(dims, COLUMNS_PER_BLOCK), THREADS,
                    partials, lossBlocks, dims, gradLogVar);
        }
    }

    /**
     * The log-variance as the kernels take it: a device vector or matrix with its row stride (0 for a D vector,
     * D for a (K*B) x D matrix), or none and the fixed value; and whether a per-dimension gradient is summed.
     */
    record Resolved(DeviceBuffer values, int rowStride, float fixed, boolean perDimensionGrad) {
    }

    /**
     * The checks of {@link #lossAndGradient}, also made by the unfused baseline, which has its own scratch memory
     * ({@code usesWorkspace} false: the workspace is neither needed nor checked).
     */
    Resolved check(CudaStream stream, LikelihoodShape shape, DeviceBuffer mean, DeviceBuffer x, LogVariance logVar,
                   float gradScale, DeviceBuffer logProb, DeviceBuffer gradMean, DeviceBuffer gradLogVar,
                   DeviceBuffer workspace, boolean usesWorkspace) {
        Objects.requireNonNull(shape, "shape");
        LaunchChecks.stream(stream, context);
        Objects.requireNonNull(logVar, "logVar");
        finite(gradScale, "gradScale");
        long rows = shape.sampleShape().rows();
        int dims = shape.dims();
        String rowsShape = "K*B x D = " + rows + " x " + dims;
        long meanElements = indexable("mean (" + rowsShape + ")", shape.outputElements());
        long dataElements = shape.dataElements();
        floats(mean, "mean", rowsShape, meanElements, context);
        floats(x, "x", "B x D = " + render(shape.batch(), dims), dataElements, context);
        floats(logProb, "logProb", shape.sampleShape().toString(), rows, context);
        if (gradMean != null) {
            floats(gradMean, "gradMean", rowsShape, meanElements, context);
        }
        long meanBytes = meanElements * Float.BYTES;
        long logVarBytes;
        long gradLogVarBytes = 0;
        DeviceBuffer logVarValues;
        int logVarRowStride;
        float logVarFixed;
        boolean perDimensionGrad = false;
        switch (logVar) {
            case LogVariance.Fixed fixed -> {
                finite(fixed.value(), "the fixed log-variance");
                if (gradLogVar != null) {
                    throw new IllegalArgumentException(
                            "gradLogVar must be null for a fixed log-variance: a constant has no gradient");
                }
                logVarValues = null;
                logVarRowStride = 0;
                logVarFixed = fixed.value();
                logVarBytes = 0;
            }
            case LogVariance.PerDimension perDimension -> {
                floats(perDimension.values(), "logVar (per dimension)", "D = " + dims, dims, context);
                if (gradLogVar != null) {
                    floats(gradLogVar, "gradLogVar (per dimension)", "D = " + dims, dims, context);
                    if (usesWorkspace) {
                        floats(workspace, "workspace", "ceil(K*B / 16) x D", workspaceFloats(shape), context);
                    }
                    perDimensionGrad = true;
                    gradLogVarBytes = (long) dims * Float.BYTES;
                }
                logVarValues = perDimension.values();
                logVarRowStride = 0;
                logVarFixed = 0f;
                logVarBytes = (long) dims * Float.BYTES;
            }
            case LogVariance.PerRow perRow -> {
                floats(perRow.values(), "logVar (per row)", rowsShape, meanElements, context);
                if (gradLogVar != null) {
                    floats(gradLogVar, "gradLogVar (per row)", rowsShape, meanElements, context);
                    gradLogVarBytes = meanBytes;
                }
                logVarValues = perRow.values();
                logVarRowStride = dims;
                logVarFixed = 0f;
                logVarBytes = meanBytes;
            }
        }
        long dataBytes = dataElements * Float.BYTES;
        long logProbBytes = rows * Float.BYTES;
        DeviceBuffer[] inputs = {mean, x, logVarValues};
        long[] inputBytes = {meanBytes, dataBytes, logVarBytes};
        String[] inputNames = {"mean", "x", "logVar"};
        DeviceBuffer partials = perDimensionGrad && usesWorkspace ? workspace : null;
        long partialBytes = partials != null ? workspaceFloats(shape) * Float.BYTES : 0;
        DeviceBuffer[] outputs = {logProb, gradMean, gradLogVar, partials};
        long[] outputBytes = {logProbBytes, gradMean == null ? 0 : meanBytes, gradLogVarBytes, partialBytes};
        String[] outputNames = {"logProb", "gradMean", "gradLogVar", "workspace"};
        for (int o = 0; o < outputs.length; o++) {
            for (int i = 0; i < inputs.length; i++) {
                disjoint(outputs[o], outputBytes[o], outputNames[o], inputs[i], inputBytes[i], inputNames[i]);
            }
            for (int p = o + 1; p < outputs.length; p++) {
                disjoint(outputs[o], outputBytes[o], outputNames[o], outputs[p], outputBytes[p], outputNames[p]);
            }
        }
        return new Resolved(logVarValues, logVarRowStride, logVarFixed, perDimensionGrad);
    }
}
