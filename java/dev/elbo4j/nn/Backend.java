package dev.elbo4j.nn;

import java.util.Objects;

import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.shape.DenseShape;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;
import dev.elbo4j.shape.SampleShape;

/**
 * The operations the VAE is written against, implemented once per device: {@code dev.elbo4j.cpu.CpuBackend}
 * (OpenBLAS and fused multi-threaded loops) and the CUDA backend (cuBLAS and the kernels of
 * {@code dev.elbo4j.kernels}). The model ({@code Vae}, {@code Trainer}, {@code Evaluator}) calls nothing else, so
 * both backends train the same model from the same code.
 *
 * <h2>Memory</h2>
 * Buffers ({@link Floats}, {@link Bytes}, {@link Ints}) live in the backend's memory (Java arrays on the CPU,
 * device memory on a GPU), are zero-filled when allocated, and are moved to and from the host only by the
 * {@code upload}/{@code download} methods. Views ({@link Floats#slice}) share their parent's memory; the parameter
 * layout ({@link ParameterLayout}) cuts the flat parameter, gradient and moment buffers into per-tensor views once.
 * Row-major everywhere; buffers may be longer than the shape of an operation needs, and only the prefix the shape
 * names is read or written.
 *
 * <h2>The step runs without the host</h2>
 * Every scalar that changes from one training step to the next lives in backend memory, in a {@link StepState}:
 * the step counter (the Philox offset of the reparameterization and binarization noise, and the source of the
 * KL warm-up), the batch cursor into the epoch's shuffled order, the number of Adam updates applied (its bias
 * correction), the step's loss and gradient norm, the non-finite guard's decision and counters, and the epoch's
 * running sums. Operations read and write these in place, so one step is a fixed sequence of operations with fixed
 * arguments that a GPU backend can capture once as a graph and replay ({@link #compileStep}); the host reads the
 * state ({@link #readState}) only when it wants to, at progress updates and epoch ends.
 *
 * <p>Which operation uses which field of the state ({@link StepStatus} names them), in the order of a step:
 * <table>
 *   <caption>The state's fields across one training step</caption>
 *   <tr><th>operation</th><th>reads</th><th>writes</th></tr>
 *   <tr><td>{@link #gatherRows}</td><td>cursor, step (binarization offset)</td><td></td></tr>
 *   <tr><td>{@link #latentForward}, {@link #latentBackward}</td><td>step (noise offset, its low 32 bits)</td>
 *       <td></td></tr>
 *   <tr><td>{@link #lossTotals}</td><td>step (KL warm-up)</td><td>loss, elbo, kl, beta; lossSum, elboSum, klSum,
 *       summedSteps (when the loss is finite)</td></tr>
 *   <tr><td>{@link #gradientNorm}</td><td></td><td>gradientNorm</td></tr>
 *   <tr><td>{@link #adam}</td><td>loss, gradientNorm, updates</td><td>updates, skippedInARow (0), or skipped and
 *       skippedInARow (+1) when the loss or norm is not finite</td></tr>
 *   <tr><td>{@link #advance}</td><td>step, cursor</td><td>step (+1), cursor (+rows)</td></tr>
 * </table>
 *
 * <h2>Determinism</h2>
 * Reductions (bias gradients, column sums, norms, batch totals) add in a fixed order, and noise is counter-based
 * (Philox), so a backend gives the same bits for the same inputs on every run with the same configuration (the CPU
 * backend: the same thread count, since its BLAS rounds by the block of C each thread computes).
 *
 * <p>A backend is used from one thread at a time. Arguments are checked before anything runs: a wrong size, a
 * closed buffer or a buffer of another backend is an {@link IllegalArgumentException} or
 * {@link IllegalStateException} naming it.
 */
public interface Backend extends AutoCloseable {

    // ------------------------------------------------------------------------------------------------ buffers

    /** A buffer in this backend's memory. Closing a view does nothing; closing a root releases its memory. */
    interface Buffer extends AutoCloseable {
        /** Elements in this buffer (or view). */
        long size();

        /** Releases the memory of a root buffer (idempotent); a view's close does nothing. */
        @Override
        void close();
    }

    /** float32 elements. */
    interface Floats extends Buffer {
        /**
         * A view of {@code count} elements starting at {@code offset}, sharing this buffer's memory.
         *
         * @throws IllegalArgumentException when the range is not inside this buffer
         */
        Floats slice(long offset, long count);
    }

    /** Unsigned 8-bit elements (pixels). */
    interface Bytes extends Buffer {
        /** A view of {@code count} elements starting at {@code offset}. */
        Bytes slice(long offset, long count);
    }

    /** int32 elements (row indices). */
    interface Ints extends Buffer {
    }

    /** Allocates {@code count} floats, all 0. */
    Floats allocateFloats(long count);

    /** Allocates {@code count} bytes, all 0. */
    Bytes allocateBytes(long count);

    /** Allocates {@code count} ints, all 0. */
    Ints allocateInts(long count);

    /** Copies {@code source} (exactly {@code destination.size()} elements) into {@code destination}. */
    void upload(float[] source, Floats destination);

    /** Copies {@code source} (exactly {@code destination.size()} elements) into {@code destination}. */
    void upload(byte[] source, Bytes destination);

    /** Copies {@code source} (exactly {@code destination.size()} elements) into {@code destination}. */
    void upload(int[] source, Ints destination);

    /**
     * Copies {@code source} into {@code destination} (exactly {@code source.size()} elements), after the work
     * enqueued before it.
     */
    void download(Floats source, float[] destination);

    // ------------------------------------------------------------------------------------------------ the step state

    /**
     * The per-step scalars of one training run (or of one evaluation) in backend memory: see the class comment.
     * Read with {@link #readState}, set with {@link #writeState}.
     */
    interface StepState extends AutoCloseable {
        /** Releases the state's memory (idempotent). */
        @Override
        void close();
    }

    /** Allocates a step state holding {@link StepStatus#initial()}. */
    StepState allocateState();

    /** The state's values now, after all work enqueued so far (a GPU backend synchronizes here). */
    StepStatus readState(StepState state);

    /** Sets every value of the state (a resume, an epoch start, an evaluation offset). */
    void writeState(StepState state, StepStatus status);

    // ------------------------------------------------------------------------------------------------ capture

    /**
     * Prepares {@code step} (a fixed sequence of this backend's operations whose varying inputs all come from
     * backend memory) to be run many times: the CPU backend returns it as it is; a GPU backend may run it once
     * directly and then capture it as a graph that it replays. Each {@link Runnable#run()} of the result runs the
     * sequence once.
     */
    default Runnable compileStep(Runnable step) {
        return Objects.requireNonNull(step, "step");
    }

    // ------------------------------------------------------------------------------------------------ data

    /**
     * Gathers one batch from a resident data set of unsigned 8-bit rows and converts it to floats in [0, 1]:
     * <pre>
     *   p = dataset[order[cursor + i]][d]            (cursor = the state's batch cursor)
     *   x[i][d] = binarize ? (u(seed, step, stream 1, i*D + d) &lt;= p / 255 ? 1 : 0) : p / 255
     * </pre>
     * for {@code i < rows}, {@code d < dims}, where {@code step} is the state's step counter and {@code u} the
     * spec's Philox uniform in (0, 1] (dynamic binarization, spec "Dynamic binarization").
     *
     * @param dataset N x D pixels
     * @param dims    D
     * @param order   row indices into the data set, each in [0, N); {@code cursor + rows} of them are read
     * @param rows    B
     * @param x       output, B x D
     */
    void gatherRows(Bytes dataset, int dims, Ints order, StepState state, int rows, boolean binarize, long seed,
                    Floats x);

    // ------------------------------------------------------------------------------------------------ dense layers

    /** Whether {@link #gemm} computes at {@code precision} (the CPU backend: FP32 only). */
    boolean supports(GemmPrecision precision);

    /**
     * Row-major {@code C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C} ({@link dev.elbo4j.cuda.Cublas}'s
     * convention: A is stored m x k, or k x m when transposed; B k x n, or n x k when transposed; lda, ldb, ldc are
     * the row strides as stored). With {@code beta == 0} C is only written.
     *
     * @throws IllegalArgumentException also when {@code precision} is not {@link #supports supported}
     */
    void gemm(GemmPrecision precision, boolean transA, boolean transB, int m, int n, int k, float alpha, Floats a,
              int lda, Floats b, int ldb, float beta, Floats c, int ldc);

    /**
     * The bias and activation of a dense layer after its GEMM wrote {@code x W^T} into {@code preActivation}:
     * {@code preActivation[r][o] += bias[o]}, then {@code output[r][o] = activation(preActivation[r][o])}, for
     * {@code r < rows}, {@code o < outputs}. {@code output} may be {@code preActivation} itself for
     * {@link Activation#IDENTITY}.
     */
    void biasActivation(DenseShape shape, Floats bias, Activation activation, Floats preActivation, Floats output);

    /**
     * {@code dPreActivation[r][o] = dOutput[r][o] * activation'(preActivation[r][o])} (rows x outputs);
     * {@code dPreActivation} may be {@code dOutput} itself.
     */
    void activationBackward(DenseShape shape, Activation activation, Floats preActivation, Floats dOutput,
                            Floats dPreActivation);

    /** {@code dBias[o] = sum_r dPreActivation[r][o]} over the rows in a fixed order (no atomics). */
    void biasGradient(DenseShape shape, Floats dPreActivation, Floats dBias);

    // ------------------------------------------------------------------------------------------------ latent layer

    /**
     * The reparameterization forward ({@link dev.elbo4j.kernels.LatentKernels#forward}) with the Philox offset
     * taken from the state's step counter (its low 32 bits):
     * {@code z[k][b][l] = mu + exp(0.5 logvar) eps}, {@code kl[b]}, and {@code logRatio[k*B + b] = log p(z) -
     * log q(z|x)} for the IWAE.
     *
     * @param kl       output, B; null when not wanted
     * @param logRatio output, K x B; null when not wanted
     */
    void latentForward(LatentShape shape, Floats muLogvar, long seed, StepState state, Floats z, Floats kl,
                       Floats logRatio);

    /**
     * The reparameterization backward ({@link dev.elbo4j.kernels.LatentKernels#backward}) with the noise
     * regenerated from {@code seed} and the state's step counter, and a KL weight per latent dimension:
     * <pre>
     *   dmu[b][l]     = sum_k dz[k][b][l]                      + klWeights[l] * mu
     *   dlogvar[b][l] = 0.5 * sum_k dz[k][b][l] * sigma * eps  + klWeights[l] * 0.5 * (exp(logvar) - 1)
     * </pre>
     * ({@code klWeights[l] = beta * rowWeight} without free bits; {@link #lossTotals} writes it.)
     *
     * @param klWeights L
     * @param dMuLogvar output, B x rowStride; columns from 2L on are untouched
     */
    void latentBackward(LatentShape shape, Floats muLogvar, Floats dz, long seed, StepState state, Floats klWeights,
                        Floats dMuLogvar);

    // ------------------------------------------------------------------------------------------------ likelihoods

    /**
     * The Bernoulli log-likelihood and logit gradient ({@link dev.elbo4j.kernels.BernoulliKernels}, float32
     * targets): {@code logProb[k*B + b] = sum_d [x_d l_d - softplus(l_d)]},
     * {@code grad[r][d] = gradScale * (sigmoid(l) - x)}.
     *
     * @param logits  (K*B) x D
     * @param x       B x D in [0, 1]
     * @param logProb output, K x B
     * @param grad    output, (K*B) x D; null for the log-likelihood alone
     */
    void bernoulliLoss(LikelihoodShape shape, Floats logits, Floats x, float gradScale, Floats logProb, Floats grad);

    /** The log-variance of a Gaussian likelihood, as the loss operation reads it. */
    sealed interface LogVariance {
        /** One fixed value for every element (not learned). */
        record Fixed(float value) implements LogVariance {
        }

        /** A learned vector of D values; its gradient sums over the rows. */
        record PerDimension(Floats values) implements LogVariance {
            /** Keeps the buffer. */
            public PerDimension {
                Objects.requireNonNull(values, "values");
            }
        }

        /** A decoder output of (K*B) x D values. */
        record PerRow(Floats values) implements LogVariance {
            /** Keeps the buffer. */
            public PerRow {
                Objects.requireNonNull(values, "values");
            }
        }
    }

    /**
     * The Gaussian log-likelihood and gradients ({@link dev.elbo4j.kernels.GaussianKernels}):
     * {@code logProb[r] = -0.5 sum_d [log 2pi + s + (x - m)^2 e^-s]}, {@code gradMean = gradScale (m - x) e^-s},
     * {@code gradLogVar = gradScale * 0.5 (1 - (x - m)^2 e^-s)} (D, summed over the rows in a fixed order, for
     * {@link LogVariance.PerDimension}; (K*B) x D for {@link LogVariance.PerRow}; null for
     * {@link LogVariance.Fixed}).
     *
     * <p>Extreme log-variances (as {@link dev.elbo4j.reference.Gaussian}): {@code (x - m)^2 e^-s} is 0 where
     * {@code x == m} whatever {@code s} (never {@code 0 * inf}); where the log-likelihood leaves float's range (e.g.
     * {@code |x - m|} near 1 with {@code s} below about -88.7) it is {@code -inf} and the step's guard skips the step.
     *
     * @param gradMean   output, (K*B) x D; null for the log-likelihood alone
     * @param gradLogVar output as above; null when not wanted
     */
    void gaussianLoss(LikelihoodShape shape, Floats mean, Floats x, LogVariance logVariance, float gradScale,
                      Floats logProb, Floats gradMean, Floats gradLogVar);

    // ------------------------------------------------------------------------------------------------ totals

    /**
     * The batch reduction of a training step, written into the state (and summed into its epoch sums), with the
     * KL schedule evaluated at the state's step counter {@code t}:
     * <pre>
     *   betaT       = schedule.betaAt(t)
     *   klDim[l]    = (1/B) sum_b 0.5 (mu^2 + exp(logvar) - 1 - logvar)[b][l]
     *   klTerm      = freeBits &gt; 0 ? sum_l max(freeBits, klDim[l]) : (1/B) sum_b kl[b]
     *   loss        = -(1/(K*B)) sum_{k,b} logProb[k*B + b] + betaT * klTerm
     *   elbo        = (1/(K*B)) sum_{k,b} logProb[k*B + b] - (1/B) sum_b kl[b]          (beta = 1)
     *   klWeights[l] = betaT / B, or 0 where free bits hold the dimension (klDim[l] &lt; freeBits)
     * </pre>
     * Sums are in double, in a fixed order. The state receives {@code loss}, {@code elbo}, the mean KL and
     * {@code betaT}; its epoch sums of loss, ELBO and KL grow by those values (all three only when the loss is
     * finite).
     *
     * @param muLogvar  B x rowStride
     * @param logProb   K x B
     * @param kl        B
     * @param klWeights output, L
     */
    void lossTotals(StepState state, KlSchedule schedule, LatentShape shape, Floats muLogvar, Floats logProb,
                    Floats kl, Floats klWeights);

    /**
     * The importance-weighted bound per row ({@link dev.elbo4j.kernels.IwaeKernels#bound}):
     * {@code bound[b] = logsumexp_k(logPx + logRatio) - log K}.
     *
     * @param logPx    K x B
     * @param logRatio K x B
     * @param bound    output, B
     */
    void iwaeBound(SampleShape shape, Floats logPx, Floats logRatio, Floats bound);

    // ------------------------------------------------------------------------------------------------ optimizer

    /**
     * The L2 norm of {@code gradients} (in double, in a fixed order) into the state; NaN or infinity when an
     * element is not finite.
     */
    void gradientNorm(Floats gradients, StepState state);

    /**
     * One Adam step over the flat buffers, guarded: when the state's loss or gradient norm is not finite, nothing
     * is written but the state's counters (skipped, skipped in a row); otherwise the update count {@code t} grows
     * by one and {@link dev.elbo4j.reference.Adam#step} runs with step {@code t} and gradient scale
     * {@link dev.elbo4j.reference.Adam#clipScale} of the state's gradient norm, and the skipped-in-a-row count
     * returns to 0.
     */
    void adam(AdamSettings settings, StepState state, Floats parameters, Floats gradients, Floats firstMoments,
              Floats secondMoments);

    /** Ends a step: the state's step counter grows by one and its batch cursor by {@code rows}. */
    void advance(StepState state, int rows);

    /** A one-line description for logs: "cpu (OpenBLAS 0.3.31, 2 threads)". */
    String description();

    /** Releases what the backend holds (thread pools, contexts); buffers it allocated must not be used after. */
    @Override
    void close();
}
