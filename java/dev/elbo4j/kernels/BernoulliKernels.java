package dev.elbo4j.kernels;

import static dev.elbo4j.cuda.KernelParameter.FLOAT;
import static dev.elbo4j.cuda.KernelParameter.INT;
import static dev.elbo4j.cuda.KernelParameter.LONG;
import static dev.elbo4j.cuda.KernelParameter.NULLABLE_POINTER;
import static dev.elbo4j.cuda.KernelParameter.POINTER;
import static dev.elbo4j.kernels.LaunchChecks.blocks;
import static dev.elbo4j.kernels.LaunchChecks.buffer;
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
 * The fused Bernoulli reconstruction loss and gradient ({@code kernels/bernoulli.cu}): one pass over the logits
 * and the data writes the per-row log-likelihood and the logit gradient of the loss, already scaled, so the
 * decoder's backward GEMM consumes it directly.
 *
 * <p>Shapes, all from one {@link LikelihoodShape} (K, B, D): {@code logits} (K*B) x D, the decoder's output for K
 * latent samples of each of B data rows (row {@code k*B + b} is scored against data row {@code b}; K = 1 for the
 * ELBO); {@code x} B x D in one of the {@link TargetFormat}s; {@code logProb} K x B; {@code grad} (K*B) x D. Buffers
 * may be larger than their shape needs. Everything is checked before the launch; the work is enqueued on
 * {@code stream} (null: the legacy default stream).
 */
public final class BernoulliKernels {
    static final String FLOAT32_TARGETS = "elbo4j_bernoulli_loss_grad_f32";
    static final String PIXEL_TARGETS = "elbo4j_bernoulli_loss_grad_u8";
    private static final int THREADS = 256;
    /** One warp per logits row. */
    private static final int ROWS_PER_BLOCK = THREADS / 32;

    private final CudaContext context;
    private final CudaFunction floatTargets;
    private final CudaFunction pixelTargets;

    /** Binds the kernels of {@code context}'s module ({@link CudaContext#kernels()}). */
    public BernoulliKernels(CudaContext context) {
        this.context = Objects.requireNonNull(context, "context");
        // (logits, x, rows, batch, dims, gradScale, binarize, seed, offset, logProb, grad)
        this.floatTargets = context.kernels().function(FLOAT32_TARGETS, POINTER, POINTER, INT, INT, INT, FLOAT, INT,
                LONG, INT, POINTER, NULLABLE_POINTER);
        this.pixelTargets = context.kernels().function(PIXEL_TARGETS, POINTER, POINTER, INT, INT, INT, FLOAT, INT,
                LONG, INT, POINTER, NULLABLE_POINTER);
    }

    /**
     * Per-row log-likelihoods and the logit gradient of the loss {@code -sum_r w_r log p_r}:
     * <pre>
     *   logProb[r] = sum_d [x_d * l_d - softplus(l_d)]                 (nats, r = k*B + b, x from row b)
     *   grad[r][d] = gradScale * (sigmoid(l_d) - x_d)
     * </pre>
     *
     * @param shape        K, B, D
     * @param logits       (K*B) x D
     * @param x            B x D in {@code format}, values in [0, 1] (device data: not checked)
     * @param format       how x is stored
     * @param binarization dynamic binarization of x in the pass, or null for x as it is
     * @param gradScale    the row weight w: 1/B for a batch mean, 1/(K*B) when the loss also averages K samples
     * @param logProb      output, K x B
     * @param grad         output, (K*B) x D; null to compute the log-likelihood alone (evaluation)
     */
    public void lossAndGradient(CudaStream stream, LikelihoodShape shape, DeviceBuffer logits, DeviceBuffer x,
                                TargetFormat format, Binarization binarization, float gradScale, DeviceBuffer logProb,
                                DeviceBuffer grad) {
        check(stream, shape, logits, x, format, gradScale, logProb, grad);
        CudaFunction kernel = format == TargetFormat.FLOAT32 ? floatTargets : pixelTargets;
        int rows = (int) shape.sampleShape().rows();
        kernel.launch(stream, blocks(rows, ROWS_PER_BLOCK), THREADS,
                logits, x, rows, shape.batch(), shape.dims(), gradScale,
                binarization == null ? 0 : 1,
                binarization == null ? 0L : binarization.seed(),
                binarization == null ? 0 : binarization.offset(),
                logProb, grad);
    }

    /** The checks of {@link #lossAndGradient}, also made by the unfused baseline. */
    void check(CudaStream stream, LikelihoodShape shape, DeviceBuffer logits, DeviceBuffer x, TargetFormat format,
               float gradScale, DeviceBuffer logProb, DeviceBuffer grad) {
        Objects.requireNonNull(shape, "shape");
        LaunchChecks.stream(stream, context);
        Objects.requireNonNull(format, "format");
        finite(gradScale, "gradScale");
        String logitShape = "K*B x D = " + shape.sampleShape().rows() + " x " + shape.dims();
        long logitElements = indexable("logits (" + logitShape + ")", shape.outputElements());
        long dataElements = shape.dataElements();
        long rows = shape.sampleShape().rows();
        floats(logits, "logits", logitShape, logitElements, context);
        buffer(x, "x", "B x D = " + render(shape.batch(), shape.dims()) + " (" + format + ")", dataElements,
                format.bytesPerElement(), context);
        floats(logProb, "logProb", shape.sampleShape().toString(), rows, context);
        if (grad != null) {
            floats(grad, "grad", logitShape, logitElements, context);
        }
        long logitBytes = logitElements * Float.BYTES;
        long logProbBytes = rows * Float.BYTES;
        disjoint(logProb, logProbBytes, "logProb", logits, logitBytes, "logits");
        disjoint(logProb, logProbBytes, "logProb", x, dataElements * format.bytesPerElement(), "x");
        disjoint(grad, logitBytes, "grad", logits, logitBytes, "logits");
        disjoint(grad, logitBytes, "grad", x, dataElements * format.bytesPerElement(), "x");
        disjoint(grad, logitBytes, "grad", logProb, logProbBytes, "logProb");
    }

    /**
     * The per-row log-likelihoods alone: {@link #lossAndGradient} without a gradient.
     *
     * @param logProb output, K x B
     */
    public void logProb(CudaStream stream, LikelihoodShape shape, DeviceBuffer logits, DeviceBuffer x,
                        TargetFormat format, Binarization binarization, DeviceBuffer logProb) {
        lossAndGradient(stream, shape, logits, x, format, binarization, 1f, logProb, null);
    }
}
