package dev.elbo4j.kernels;

import static dev.elbo4j.cuda.KernelParameter.FLOAT;
import static dev.elbo4j.cuda.KernelParameter.INT;
import static dev.elbo4j.cuda.KernelParameter.LONG;
import static dev.elbo4j.cuda.KernelParameter.NULLABLE_POINTER;
import static dev.elbo4j.cuda.KernelParameter.POINTER;
import static dev.elbo4j.kernels.LaunchChecks.blocks;

import java.util.Objects;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaFunction;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;
import dev.elbo4j.shape.SampleShape;

/**
 * The unfused baseline ({@code kernels/unfused.cu}): every fused operation as the sequence of one-purpose kernels
 * an eager framework would run (a noise kernel, a reparameterization kernel, softplus, sigmoid, row sums, ...),
 * each intermediate a float32 tensor in device memory. It computes the same functions to the same tolerances as
 * the fused kernels; the benchmarks run it beside them to measure what fusion saves.
 *
 * <p>Each method takes the arguments of its fused counterpart, checked the same way, in the same order:
 * {@link #latentForward} ~ {@link LatentKernels#forward}, {@link #latentBackward} ~ {@link LatentKernels#backward},
 * {@link #latentBackwardFromSamples} ~ {@link LatentKernels#backwardFromSamples},
 * {@link #bernoulliLossAndGradient} ~ {@link BernoulliKernels#lossAndGradient},
 * {@link #gaussianLossAndGradient} ~ {@link GaussianKernels#lossAndGradient} (without the workspace),
 * {@link #elboReduce} ~ {@link ElboReduction#reduce}, {@link #iwaeBound} ~ {@link IwaeKernels#bound}.
 *
 * <p>The intermediates live in one scratch allocation made by the constructor for the largest shapes it will be
 * called with (a {@link LatentShape} and a {@link LikelihoodShape}), so no call allocates (and a sequence can be
 * captured into a CUDA graph). All calls share that scratch: issue them on one stream, or synchronize between
 * streams. {@link #close()} frees it.
 */
public final class UnfusedElbo implements AutoCloseable {
    private static final int THREADS = 256;
    /** One warp per row in the row-sum kernel. */
    private static final int ROW_SUM_ROWS_PER_BLOCK = THREADS / 32;
    private static final int COLUMN_SUM_COLUMNS = 32;
    /** Scratch slices start on 16-byte boundaries so the kernels can use float4 accesses. */
    private static final int SLICE_ALIGNMENT_FLOATS = 4;
    /** The most slices one sequence carves from the scratch. */
    private static final int MAX_SLICES = 6;

    private final CudaContext context;
    private final LatentKernels latentChecks;
    private final BernoulliKernels bernoulliChecks;
    private final GaussianKernels gaussianChecks;
    private final ElboReduction elboChecks;
    private final IwaeKernels iwaeChecks;
    private final String capacity;
    private final DeviceBuffer scratch;

    private final CudaFunction normalNoise;
    private final CudaFunction uniformNoise;
    private final CudaFunction reparameterize;
    private final CudaFunction klTerms;
    private final CudaFunction logRatioTerms;
    private final CudaFunction sigmaEps;
    private final CudaFunction sampleOffset;
    private final CudaFunction latentGrad;
    private final CudaFunction multiply;
    private final CudaFunction add;
    private final CudaFunction scale;
    private final CudaFunction rowSum;
    private final CudaFunction columnSum;
    private final CudaFunction sumSamples;
    private final CudaFunction pixelsToFloat;
    private final CudaFunction binarize;
    private final CudaFunction softplus;
    private final CudaFunction sigmoid;
    private final CudaFunction bernoulliTerms;
    private final CudaFunction bernoulliGrad;
    private final CudaFunction gaussianTerms;
    private final CudaFunction gaussianGrads;
    private final CudaFunction sampleMax;
    private final CudaFunction expShifted;
    private final CudaFunction logMeanExp;
    private final CudaFunction elboTerms;

    /**
     * Binds the kernels of {@code context}'s module and allocates the scratch for calls with at most these shapes.
     *
     * @param latentCapacity     the largest K, B and L of the latent calls (its row stride is not used)
     * @param likelihoodCapacity the largest K, B and D of the likelihood calls
     */
    public UnfusedElbo(CudaContext context, LatentShape latentCapacity, LikelihoodShape likelihoodCapacity) {
        this.context = Objects.requireNonNull(context, "context");
        long floats = scratchFloats(latentCapacity, likelihoodCapacity);
        this.latentChecks = new LatentKernels(context);
        this.bernoulliChecks = new BernoulliKernels(context);
        this.gaussianChecks = new GaussianKernels(context);
        this.elboChecks = new ElboReduction(context);
        this.iwaeChecks = new IwaeKernels(context);
        var module = context.kernels();
        this.normalNoise = module.function("elbo4j_unfused_normal_noise", POINTER, INT, LONG, INT);
        this.uniformNoise = module.function("elbo4j_unfused_uniform_noise", POINTER, INT, LONG, INT, INT);
        this.reparameterize = module.function("elbo4j_unfused_reparameterize",
                POINTER, POINTER, INT, POINTER, INT, INT, INT, POINTER);
        this.klTerms = module.function("elbo4j_unfused_kl_terms", POINTER, POINTER, INT, INT, INT, POINTER);
        this.logRatioTerms = module.function("elbo4j_unfused_log_ratio_terms",
                POINTER, POINTER, POINTER, INT, INT, INT, INT, POINTER);
        this.sigmaEps = module.function("elbo4j_unfused_sigma_eps", POINTER, INT, POINTER, INT, INT, INT, POINTER);
        this.sampleOffset = module.function("elbo4j_unfused_sample_offset",
                POINTER, POINTER, INT, INT, INT, INT, POINTER);
        this.latentGrad = module.function("elbo4j_unfused_latent_grad",
                POINTER, POINTER, POINTER, POINTER, INT, INT, INT, FLOAT, FLOAT, POINTER, POINTER, INT);
        this.multiply = module.function("elbo4j_unfused_multiply", POINTER, POINTER, INT, POINTER);
        this.add = module.function("elbo4j_unfused_add", POINTER, POINTER, INT, POINTER);
        this.scale = module.function("elbo4j_unfused_scale", POINTER, INT, FLOAT, POINTER);
        this.rowSum = module.function("elbo4j_unfused_row_sum", POINTER, INT, INT, POINTER);
        this.columnSum = module.function("elbo4j_unfused_column_sum", POINTER, INT, INT, POINTER);
        this.sumSamples = module.function("elbo4j_unfused_sum_samples", POINTER, INT, INT, POINTER);
        this.pixelsToFloat = module.function("elbo4j_unfused_pixels_to_float", POINTER, INT, POINTER);
        this.binarize = module.function("elbo4j_unfused_binarize", POINTER, POINTER, INT, POINTER);
        this.softplus = module.function("elbo4j_unfused_softplus", POINTER, INT, POINTER);
        this.sigmoid = module.function("elbo4j_unfused_sigmoid", POINTER, INT, POINTER);
        this.bernoulliTerms = module.function("elbo4j_unfused_bernoulli_terms",
                POINTER, POINTER, POINTER, INT, INT, INT, POINTER);
        this.bernoulliGrad = module.function("elbo4j_unfused_bernoulli_grad",
                POINTER, POINTER, INT, INT, INT, FLOAT, POINTER);
        this.gaussianTerms = module.function("elbo4j_unfused_gaussian_terms",
                POINTER, POINTER, NULLABLE_POINTER, FLOAT, INT, INT, INT, INT, POINTER);
        this.gaussianGrads = module.function("elbo4j_unfused_gaussian_grads", POINTER, POINTER, NULLABLE_POINTER, FLOAT, INT, INT, INT, INT, FLOAT, NULLABLE_POINTER, FLOAT,
                NULLABLE_POINTER);
        this.sampleMax = module.function("elbo4j_unfused_sample_max", POINTER, INT, INT, POINTER);
        this.expShifted = module.function("elbo4j_unfused_exp_shifted", POINTER, POINTER, INT, INT, POINTER);
        this.logMeanExp = module.function("elbo4j_unfused_log_mean_exp", POINTER, POINTER, INT, INT, POINTER);
        this.elboTerms = module.function("elbo4j_unfused_elbo_terms", POINTER, POINTER, INT, FLOAT, POINTER);
        this.capacity = "latent " + latentCapacity + ", likelihood " + likelihoodCapacity;
        this.scratch = context.allocateFloats(floats);
    }

    /**
     * Floats of scratch the constructor allocates for these largest shapes: the most any one sequence keeps in
     * memory at once, plus alignment padding. Exact: a count past {@code Long.MAX_VALUE} throws, never wraps.
     *
     * @throws IllegalArgumentException when the count exceeds {@code Long.MAX_VALUE}
     */
    public static long scratchFloats(LatentShape latentCapacity, LikelihoodShape likelihoodCapacity) {
        Objects.requireNonNull(latentCapacity, "latentCapacity");
        Objects.requireNonNull(likelihoodCapacity, "likelihoodCapacity");
        try {
            long latentSamples = latentCapacity.sampleElements();
            long latentRows = Math.multiplyExact((long) latentCapacity.batch(), latentCapacity.latent());
            long dataRows = likelihoodCapacity.dataElements();
            long logitRows = likelihoodCapacity.outputElements();
            long batch = Math.max(latentCapacity.batch(), likelihoodCapacity.batch());
            long samplesTimesBatch = Math.max(latentCapacity.sampleShape().rows(),
                    likelihoodCapacity.sampleShape().rows());
            long most = Math.max(
                    Math.max(sum(2, latentSamples, 1, latentRows), sum(3, latentSamples, 2, latentRows)),
                    Math.max(Math.max(sum(3, dataRows, 3, logitRows), sum(2, logitRows, 0, 0)),
                            Math.max(sum(2, batch, 1, 2), sum(2, samplesTimesBatch, 2, batch))));
            return Math.addExact(most, (long) MAX_SLICES * SLICE_ALIGNMENT_FLOATS);
        } catch (ArithmeticException | IllegalArgumentException overflow) {
            throw new IllegalArgumentException("the unfused baseline's scratch for latent " + latentCapacity
                    + " and likelihood " + likelihoodCapacity + " has more than Long.MAX_VALUE floats", overflow);
        }
    }

    /** {@code a * x + b * y}, exact. */
    private static long sum(long a, long x, long b, long y) {
        return Math.addExact(Math.multiplyExact(a, x), Math.multiplyExact(b, y));
    }

    // ---- latent ------------------------------------------------------------------------------------------------

    /**
     * {@link LatentKernels#forward} as noise, reparameterize, KL terms and row sum, and (for {@code logRatio})
     * log-ratio terms and row sum.
     */
    public void latentForward(CudaStream stream, LatentShape shape, DeviceBuffer muLogvar, long seed, int offset,
                              DeviceBuffer z, DeviceBuffer kl, DeviceBuffer logRatio) {
        latentChecks.checkForward(stream, shape, muLogvar, z, kl, logRatio);
        int batch = shape.batch();
        int latent = shape.latent();
        int samples = shape.samples();
        int rowStride = shape.rowStride();
        int latentSamples = (int) shape.sampleElements();
        int latentRows = batch * latent;
        Scratch s = scratch(2L * latentSamples + latentRows);
        DeviceBuffer logvar = LatentKernels.logvarColumns(muLogvar, latent);

        DeviceBuffer eps = s.take(latentSamples);
        quads(normalNoise, stream, latentSamples, eps, latentSamples, seed, offset);
        elements(reparameterize, stream, latentSamples, muLogvar, logvar, rowStride, eps, batch, latent, samples, z);
        if (kl != null) {
            DeviceBuffer terms = s.take(latentRows);
            elements(klTerms, stream, latentRows, muLogvar, logvar, rowStride, batch, latent, terms);
            rowSums(stream, terms, batch, latent, kl);
        }
        if (logRatio != null) {
            DeviceBuffer terms = s.take(latentSamples);
            elements(logRatioTerms, stream, latentSamples, z, eps, logvar, rowStride, batch, latent, samples, terms);
            rowSums(stream, terms, samples * batch, latent, logRatio);
        }
    }

    /**
     * {@link LatentKernels#backward} as noise, sigma * eps, dz * sigma * eps, sums over the samples, and the
     * gradient.
     */
    public void latentBackward(CudaStream stream, LatentShape shape, DeviceBuffer muLogvar, DeviceBuffer dz,
                               long seed, int offset, float beta, float rowWeight, DeviceBuffer dMuLogvar) {
        latentChecks.checkBackward(stream, shape, muLogvar, null, dz, beta, rowWeight, dMuLogvar);
        int latentSamples = (int) shape.sampleElements();
        Scratch s = scratch(3L * latentSamples + 2L * shape.batch() * shape.latent());
        DeviceBuffer logvar = LatentKernels.logvarColumns(muLogvar, shape.latent());
        DeviceBuffer eps = s.take(latentSamples);
        DeviceBuffer offsets = s.take(latentSamples);
        quads(normalNoise, stream, latentSamples, eps, latentSamples, seed, offset);
        elements(sigmaEps, stream, latentSamples, logvar, shape.rowStride(), eps, shape.batch(), shape.latent(),
                shape.samples(), offsets);
        finishBackward(stream, s, shape, muLogvar, offsets, dz, beta, rowWeight, dMuLogvar);
    }

    /** {@link LatentKernels#backwardFromSamples} as z - mu, dz * (z - mu), sums over the samples, and the gradient. */
    public void latentBackwardFromSamples(CudaStream stream, LatentShape shape, DeviceBuffer muLogvar, DeviceBuffer z,
                                          DeviceBuffer dz, float beta, float rowWeight, DeviceBuffer dMuLogvar) {
        Objects.requireNonNull(z, "z");
        latentChecks.checkBackward(stream, shape, muLogvar, z, dz, beta, rowWeight, dMuLogvar);
        int latentSamples = (int) shape.sampleElements();
        Scratch s = scratch(2L * latentSamples + 2L * shape.batch() * shape.latent());
        DeviceBuffer offsets = s.take(latentSamples);
        elements(sampleOffset, stream, latentSamples, z, muLogvar, shape.rowStride(), shape.batch(), shape.latent(),
                shape.samples(), offsets);
        finishBackward(stream, s, shape, muLogvar, offsets, dz, beta, rowWeight, dMuLogvar);
    }

    /** Given sigma * eps (K x B x L): the products with dz, the sums over the samples, the gradient. */
    private void finishBackward(CudaStream stream, Scratch s, LatentShape shape, DeviceBuffer muLogvar,
                                DeviceBuffer sigmaEpsValues, DeviceBuffer dz, float beta, float rowWeight,
                                DeviceBuffer dMuLogvar) {
        int latent = shape.latent();
        int latentSamples = (int) shape.sampleElements();
        int latentRows = shape.batch() * latent;
        DeviceBuffer products = s.take(latentSamples);
        DeviceBuffer gz = s.take(latentRows);
        DeviceBuffer gzSigmaEps = s.take(latentRows);
        quads(multiply, stream, latentSamples, dz, sigmaEpsValues, latentSamples, products);
        elements(sumSamples, stream, latentRows, dz, shape.samples(), latentRows, gz);
        elements(sumSamples, stream, latentRows, products, shape.samples(), latentRows, gzSigmaEps);
        DeviceBuffer logvar = LatentKernels.logvarColumns(muLogvar, latent);
        DeviceBuffer dLogvar = LatentKernels.logvarColumns(dMuLogvar, latent);
        elements(latentGrad, stream, latentRows, gz, gzSigmaEps, muLogvar, logvar, shape.rowStride(), shape.batch(),
                latent, beta, rowWeight, dMuLogvar, dLogvar, shape.rowStride());
    }

    // ---- likelihoods -------------------------------------------------------------------------------------------

    /**
     * {@link BernoulliKernels#lossAndGradient} as [pixels to floats], [uniform noise, binarize], softplus,
     * x * l - softplus, row sum, and for the gradient sigmoid and scale * (sigmoid - x).
     */
    public void bernoulliLossAndGradient(CudaStream stream, LikelihoodShape shape, DeviceBuffer logits,
                                         DeviceBuffer x, TargetFormat format, Binarization binarization,
                                         float gradScale, DeviceBuffer logProb, DeviceBuffer grad) {
        bernoulliChecks.check(stream, shape, logits, x, format, gradScale, logProb, grad);
        int batch = shape.batch();
        int dims = shape.dims();
        int rows = (int) shape.sampleShape().rows();
        int dataElements = (int) shape.dataElements();
        int logitElements = (int) shape.outputElements();
        Scratch s = scratch(3L * dataElements + 3L * logitElements);
        DeviceBuffer targets = x;
        if (format == TargetFormat.PIXELS_U8) {
            targets = s.take(dataElements);
            quads(pixelsToFloat, stream, dataElements, x, dataElements, targets);
        }
        if (binarization != null) {
            DeviceBuffer uniforms = s.take(dataElements);
            DeviceBuffer binary = s.take(dataElements);
            quads(uniformNoise, stream, dataElements, uniforms, dataElements, binarization.seed(),
                    binarization.offset(), 1);
            quads(binarize, stream, dataElements, targets, uniforms, dataElements, binary);
            targets = binary;
        }
        DeviceBuffer softplusValues = s.take(logitElements);
        DeviceBuffer terms = s.take(logitElements);
        quads(softplus, stream, logitElements, logits, logitElements, softplusValues);
        quads(bernoulliTerms, stream, logitElements, logits, targets, softplusValues, rows, batch, dims, terms);
        rowSums(stream, terms, rows, dims, logProb);
        if (grad != null) {
            DeviceBuffer sigmoids = s.take(logitElements);
            quads(sigmoid, stream, logitElements, logits, logitElements, sigmoids);
            quads(bernoulliGrad, stream, logitElements, sigmoids, targets, rows, batch, dims, gradScale, grad);
        }
    }

    /**
     * {@link GaussianKernels#lossAndGradient} as terms, row sum, and the elementwise gradients; a per-dimension
     * log-variance gradient as a column sum of its terms.
     */
    public void gaussianLossAndGradient(CudaStream stream, LikelihoodShape shape, DeviceBuffer mean, DeviceBuffer x,
                                        GaussianKernels.LogVariance logVar, float gradScale, DeviceBuffer logProb,
                                        DeviceBuffer gradMean, DeviceBuffer gradLogVar) {
        GaussianKernels.Resolved resolved = gaussianChecks.check(stream, shape, mean, x, logVar, gradScale, logProb,
                gradMean, gradLogVar, null, false);
        int batch = shape.batch();
        int dims = shape.dims();
        int rows = (int) shape.sampleShape().rows();
        int elements = (int) shape.outputElements();
        Scratch s = scratch(2L * elements);
        DeviceBuffer values = resolved.values();
        DeviceBuffer terms = s.take(elements);
        quads(gaussianTerms, stream, elements, mean, x, values, resolved.fixed(), resolved.rowStride(), rows, batch,
                dims, terms);
        rowSums(stream, terms, rows, dims, logProb);
        if (gradMean == null && gradLogVar == null) {
            return;
        }
        DeviceBuffer logVarTerms = resolved.perDimensionGrad() ? s.take(elements) : gradLogVar;
        // Each term is scaled before it is rounded to float (as in the fused kernel), so the column sum adds
        // scaled terms.
        quads(gaussianGrads, stream, elements, mean, x, values, resolved.fixed(), resolved.rowStride(), rows, batch,
                dims, gradScale, gradMean, gradScale, logVarTerms);
        if (resolved.perDimensionGrad()) {
            columnSum.launch(stream, blocks(dims, COLUMN_SUM_COLUMNS), THREADS, logVarTerms, rows, dims, gradLogVar);
        }
    }

    // ---- reductions --------------------------------------------------------------------------------------------

    /**
     * {@link ElboReduction#reduce} as per-row loss terms, their sum and a scale, once for the loss (with beta) and
     * once for the mean ELBO (beta = 1, the per-row ELBO).
     */
    public void elboReduce(CudaStream stream, SampleShape rows, DeviceBuffer logProb, DeviceBuffer kl, float beta,
                           DeviceBuffer elbo, DeviceBuffer totals) {
        elboChecks.check(stream, rows, logProb, kl, beta, elbo, totals);
        int batch = rows.batch();
        Scratch s = scratch(2L * batch + 2);
        DeviceBuffer lossTerms = s.take(batch);
        DeviceBuffer elboTermsValues = elbo != null ? elbo : s.take(batch);
        DeviceBuffer sums = s.take(2);
        elements(elboTerms, stream, batch, logProb, kl, batch, beta, lossTerms);
        elements(elboTerms, stream, batch, logProb, kl, batch, 1f, elboTermsValues);
        rowSums(stream, lossTerms, 1, batch, sums.sliceFloats(0, 1));
        rowSums(stream, elboTermsValues, 1, batch, sums.sliceFloats(1, 1));
        quads(scale, stream, 1, sums.sliceFloats(0, 1), 1, (float) (-1.0 / batch),
                totals.sliceFloats(ElboTotals.LOSS_INDEX, 1));
        quads(scale, stream, 1, sums.sliceFloats(1, 1), 1, (float) (1.0 / batch),
                totals.sliceFloats(ElboTotals.MEAN_ELBO_INDEX, 1));
    }

    /**
     * {@link IwaeKernels#bound} as log weights (add), the largest per row, the shifted exponentials, their sum over
     * the samples, and the log of the mean.
     */
    public void iwaeBound(CudaStream stream, SampleShape shape, DeviceBuffer logPx, DeviceBuffer logRatio,
                          DeviceBuffer logWeights, DeviceBuffer bound) {
        iwaeChecks.check(stream, shape, logPx, logRatio, logWeights, bound);
        int samples = shape.samples();
        int batch = shape.batch();
        int weights = (int) shape.rows();
        Scratch s = scratch(2L * weights + 2L * batch);
        DeviceBuffer weightValues = logWeights != null ? logWeights : s.take(weights);
        DeviceBuffer largest = s.take(batch);
        DeviceBuffer exponentials = s.take(weights);
        DeviceBuffer sums = s.take(batch);
        quads(add, stream, weights, logPx, logRatio, weights, weightValues);
        elements(sampleMax, stream, batch, weightValues, samples, batch, largest);
        elements(expShifted, stream, weights, weightValues, largest, samples, batch, exponentials);
        elements(sumSamples, stream, batch, exponentials, samples, batch, sums);
        elements(logMeanExp, stream, batch, largest, sums, samples, batch, bound);
    }

    /** Frees the scratch. Idempotent. */
    @Override
    public void close() {
        scratch.close();
    }

    // ---- launching ---------------------------------------------------------------------------------------------

    /** A kernel that walks {@code count} elements in quads of 4 (one per thread per grid-stride step). */
    private static void quads(CudaFunction kernel, CudaStream stream, long count, Object... args) {
        kernel.launch(stream, blocks((count + 3) / 4, THREADS), THREADS, args);
    }

    /** A kernel with one thread per element of {@code count}. */
    private static void elements(CudaFunction kernel, CudaStream stream, long count, Object... args) {
        kernel.launch(stream, blocks(count, THREADS), THREADS, args);
    }

    /** out[r] = sum of row r of a rows x cols matrix. */
    private void rowSums(CudaStream stream, DeviceBuffer in, int rows, int cols, DeviceBuffer out) {
        rowSum.launch(stream, blocks(rows, ROW_SUM_ROWS_PER_BLOCK), THREADS, in, rows, cols, out);
    }

    /** A sequence's view of the scratch: consecutive, 16-byte aligned slices. */
    private Scratch scratch(long floatsNeeded) {
        if (scratch.isClosed()) {
            throw new IllegalStateException("this UnfusedElbo is closed");
        }
        long needed = floatsNeeded + (long) MAX_SLICES * SLICE_ALIGNMENT_FLOATS;
        if (needed > scratch.floatCount()) {
            throw new IllegalArgumentException("this call needs " + needed + " floats of scratch but this UnfusedElbo"
                    + " holds " + scratch.floatCount() + " (made for at most " + capacity + ")");
        }
        return new Scratch();
    }

    private final class Scratch {
        private long next;

        DeviceBuffer take(long floats) {
            DeviceBuffer slice = scratch.sliceFloats(next, floats);
            next += (floats + SLICE_ALIGNMENT_FLOATS - 1) / SLICE_ALIGNMENT_FLOATS * SLICE_ALIGNMENT_FLOATS;
            return slice;
        }
    }
}
