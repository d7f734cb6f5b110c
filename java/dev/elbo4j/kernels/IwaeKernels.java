package dev.elbo4j.kernels;

import static dev.elbo4j.cuda.KernelParameter.INT;
import static dev.elbo4j.cuda.KernelParameter.NULLABLE_POINTER;
import static dev.elbo4j.cuda.KernelParameter.POINTER;
import static dev.elbo4j.kernels.LaunchChecks.blocks;
import static dev.elbo4j.kernels.LaunchChecks.disjoint;
import static dev.elbo4j.kernels.LaunchChecks.floats;
import static dev.elbo4j.kernels.LaunchChecks.indexable;
import static dev.elbo4j.kernels.LaunchChecks.optionalFloats;

import java.util.Objects;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaFunction;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.shape.SampleShape;

/**
 * The importance-weighted bound per data row ({@code kernels/iwae.cu}): {@code IWAE_K = logsumexp_k(log w_k) -
 * log K} with {@code log w_k = log p(x | z_k) + log p(z_k) - log q(z_k | x)}, in one pass with the running largest
 * weight subtracted (an online log-sum-exp), so weights near -1e4 neither underflow nor overflow.
 *
 * <p>The inputs come from the other fused kernels: {@code logPx} (K x B) is the likelihood kernel's per-row
 * output for the K x B latent rows of {@code z}, {@code logRatio} (K x B) the latent forward's
 * {@code log p(z) - log q(z | x)}. Everything is checked before the launch; the work is enqueued on
 * {@code stream} (null: the legacy default stream).
 */
public final class IwaeKernels {
    static final String BOUND = "elbo4j_iwae_bound";
    private static final int THREADS = 256;
    /** A block owns 32 rows; its 8 warps share out the K samples of each (kernels/iwae.cu). */
    private static final int ROWS_PER_BLOCK = 32;

    private final CudaContext context;
    private final CudaFunction bound;

    /** Binds the kernel of {@code context}'s module ({@link CudaContext#kernels()}). */
    public IwaeKernels(CudaContext context) {
        this.context = Objects.requireNonNull(context, "context");
        // (logPx, logRatio, samples, batch, logWeights, bound)
        this.bound = context.kernels().function(BOUND, POINTER, POINTER, INT, INT, NULLABLE_POINTER, POINTER);
    }

    /**
     * Writes the log weights (optional) and the bound of each row, in nats.
     *
     * @param shape      K, B
     * @param logPx      K x B, log p(x_b | z_kb)
     * @param logRatio   K x B, log p(z_kb) - log q(z_kb | x_b)
     * @param logWeights output, K x B, {@code logPx + logRatio} rounded to float32; null when not wanted
     * @param bound      output, B: IWAE_K of each row, computed from the float32 log weights
     */
    public void bound(CudaStream stream, SampleShape shape, DeviceBuffer logPx, DeviceBuffer logRatio,
                      DeviceBuffer logWeights, DeviceBuffer bound) {
        check(stream, shape, logPx, logRatio, logWeights, bound);
        this.bound.launch(stream, blocks(shape.batch(), ROWS_PER_BLOCK), THREADS, logPx, logRatio, shape.samples(),
                shape.batch(), logWeights, bound);
    }

    /** The checks of {@link #bound}, also made by the unfused baseline. */
    void check(CudaStream stream, SampleShape shape, DeviceBuffer logPx, DeviceBuffer logRatio,
               DeviceBuffer logWeights, DeviceBuffer bound) {
        Objects.requireNonNull(shape, "shape");
        LaunchChecks.stream(stream, context);
        String weightShape = shape.toString();
        long weights = indexable("log weights (" + weightShape + ")", shape.rows());
        int batch = shape.batch();
        floats(logPx, "logPx", weightShape, weights, context);
        floats(logRatio, "logRatio", weightShape, weights, context);
        optionalFloats(logWeights, "logWeights", weightShape, weights, context);
        floats(bound, "bound", "B = " + batch, batch, context);
        long weightBytes = weights * Float.BYTES;
        long boundBytes = (long) batch * Float.BYTES;
        disjoint(logWeights, weightBytes, "logWeights", logPx, weightBytes, "logPx");
        disjoint(logWeights, weightBytes, "logWeights", logRatio, weightBytes, "logRatio");
        disjoint(bound, boundBytes, "bound", logPx, weightBytes, "logPx");
        disjoint(bound, boundBytes, "bound", logRatio, weightBytes, "logRatio");
        disjoint(bound, boundBytes, "bound", logWeights, weightBytes, "logWeights");
    }
}
