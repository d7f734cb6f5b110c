package dev.elbo4j.kernels;

import static dev.elbo4j.cuda.KernelParameter.INT;
import static dev.elbo4j.cuda.KernelParameter.POINTER;
import static dev.elbo4j.kernels.LaunchChecks.disjoint;
import static dev.elbo4j.kernels.LaunchChecks.floats;

import java.util.Objects;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaFunction;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;

/**
 * The global L2 norm of the flat gradient buffer, {@code sqrt(sum g^2)} ({@code kernels/grad_norm.cu}), into the
 * {@link DeviceStepState}, where the non-finite guard of {@link AdamKernels} reads it. Squares are summed in double
 * in a fixed order (blocks of a grid that depends on the element count alone, then the blocks in order), so the
 * bits are reproducible, and the norm is NaN or infinite exactly when an element is.
 *
 * <p>The launcher allocates nothing: the caller provides the workspace ({@link #workspaceBytes}), once, so that the
 * calls can be captured into a CUDA graph. Everything is checked before the launch; the work is enqueued on
 * {@code stream} (null: the legacy default stream).
 */
public final class GradientNormKernels {
    static final String PARTIAL = "elbo4j_grad_norm_partial";
    static final String FINAL = "elbo4j_grad_norm_final";
    private static final int THREADS = 256;
    /** The first stage's grid: one block per this many elements, at most {@link #MAX_BLOCKS} blocks. */
    private static final int ELEMENTS_PER_BLOCK = 2048;
    private static final int MAX_BLOCKS = 512;

    private final CudaContext context;
    private final CudaFunction partial;
    private final CudaFunction combine;

    /** Binds the kernels of {@code context}'s module ({@link CudaContext#kernels()}). */
    public GradientNormKernels(CudaContext context) {
        this.context = Objects.requireNonNull(context, "context");
        // (grads, n, partials)
        this.partial = context.kernels().function(PARTIAL, POINTER, INT, POINTER);
        // (partials, partial count, state)
        this.combine = context.kernels().function(FINAL, POINTER, INT, POINTER);
    }

    /** The first stage's blocks for {@code count} elements: {@code min(512, ceil(count / 2048))}. */
    static int blocks(long count) {
        return (int) Math.max(1, Math.min(MAX_BLOCKS, (count + ELEMENTS_PER_BLOCK - 1) / ELEMENTS_PER_BLOCK));
    }

    /** The workspace {@link #compute} needs for {@code count} elements: one double per first-stage block. */
    public static long workspaceBytes(long count) {
        return (long) blocks(count) * Double.BYTES;
    }

    /**
     * Writes the L2 norm of {@code gradients[0, count)} into {@code state}'s gradient norm.
     *
     * @param count     the elements, at least 1
     * @param gradients at least {@code count} floats
     * @param workspace at least {@link #workspaceBytes} bytes, 8-byte aligned
     * @param state     receives the norm
     */
    public void compute(CudaStream stream, long count, DeviceBuffer gradients, DeviceBuffer workspace,
                        DeviceStepState state) {
        LaunchChecks.stream(stream, context);
        LaunchChecks.flatCount("gradient", count);
        LaunchChecks.state(state, context);
        floats(gradients, "gradients", "P = " + count, count, context);
        int blocks = blocks(count);
        LaunchChecks.doubles(workspace, blocks + " partial sums (doubles) = " + workspaceBytes(count) + " bytes",
                blocks, context);
        disjoint(workspace, (long) blocks * Double.BYTES, "workspace", gradients, count * Float.BYTES, "gradients");
        disjoint(workspace, (long) blocks * Double.BYTES, "workspace", state.buffer(), DeviceStepState.BYTES, "state");
        partial.launch(stream, blocks, THREADS, gradients, (int) count, workspace);
        combine.launch(stream, 1, THREADS, workspace, blocks, state.buffer());
    }
}
