package dev.elbo4j.kernels;

import static dev.elbo4j.cuda.KernelParameter.FLOAT;
import static dev.elbo4j.cuda.KernelParameter.INT;
import static dev.elbo4j.cuda.KernelParameter.POINTER;
import static dev.elbo4j.kernels.LaunchChecks.blocks;
import static dev.elbo4j.kernels.LaunchChecks.disjoint;
import static dev.elbo4j.kernels.LaunchChecks.floats;

import java.util.Objects;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaFunction;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.nn.AdamSettings;

/**
 * One guarded Adam or AdamW update over the flat parameter, gradient and moment buffers ({@code kernels/adam.cu}),
 * with PyTorch's formulas ({@link AdamSettings}, {@link dev.elbo4j.reference.Adam}): the step's scalars come from
 * the {@link DeviceStepState}, so a captured step graph replays correctly.
 *
 * <p>The guard: when the state's loss or gradient norm ({@link LossTotalsKernels}, {@link GradientNormKernels}) is
 * not finite, nothing is written but the state's skip counters (skipped, skipped in a row); the parameters, the
 * moments and the update count {@code t} are untouched. Otherwise {@code t} grows by one, the gradients are scaled
 * by {@link dev.elbo4j.reference.Adam#clipScale} of the norm, and the skipped-in-a-row count returns to 0. Float32
 * per element (the reference computes in double: they agree to a few ulp).
 *
 * <p>Everything is checked before the launch; the work is enqueued on {@code stream} (null: the legacy default
 * stream).
 */
public final class AdamKernels {
    static final String PREPARE = "elbo4j_adam_prepare";
    static final String UPDATE = "elbo4j_adam";
    private static final int THREADS = 256;

    private final CudaContext context;
    private final CudaFunction prepare;
    private final CudaFunction update;

    /** Binds the kernels of {@code context}'s module ({@link CudaContext#kernels()}). */
    public AdamKernels(CudaContext context) {
        this.context = Objects.requireNonNull(context, "context");
        // (state, learning rate, beta1, beta2, max grad norm)
        this.prepare = context.kernels().function(PREPARE, POINTER, FLOAT, FLOAT, FLOAT, FLOAT);
        // (params, grads, m, v, n, state, learning rate, beta1, beta2, epsilon, weight decay, decoupled)
        this.update = context.kernels().function(UPDATE, POINTER, POINTER, POINTER, POINTER, INT, POINTER, FLOAT,
                FLOAT, FLOAT, FLOAT, FLOAT, INT);
    }

    /**
     * Updates {@code parameters}, {@code firstMoments} and {@code secondMoments} in place from {@code gradients},
     * the first {@code count} elements of each, unless the state's guard skips the step.
     *
     * @param count     the elements, at least 1
     * @param gradients read only
     * @param state     the step's loss and gradient norm; receives the guard's counters and decision
     */
    public void update(CudaStream stream, long count, DeviceBuffer gradients, AdamSettings settings,
                       DeviceStepState state, DeviceBuffer parameters, DeviceBuffer firstMoments,
                       DeviceBuffer secondMoments) {
        Objects.requireNonNull(settings, "settings");
        LaunchChecks.stream(stream, context);
        LaunchChecks.state(state, context);
        LaunchChecks.flatCount("parameter", count);
        String shape = "P = " + count;
        floats(parameters, "parameters", shape, count, context);
        floats(gradients, "gradients", shape, count, context);
        floats(firstMoments, "firstMoments", shape, count, context);
        floats(secondMoments, "secondMoments", shape, count, context);
        long bytes = count * Float.BYTES;
        DeviceBuffer[] buffers = {parameters, gradients, firstMoments, secondMoments};
        String[] names = {"parameters", "gradients", "firstMoments", "secondMoments"};
        for (int i = 0; i < buffers.length; i++) {
            for (int j = i + 1; j < buffers.length; j++) {
                disjoint(buffers[i], bytes, names[i], buffers[j], bytes, names[j]);
            }
            disjoint(buffers[i], bytes, names[i], state.buffer(), DeviceStepState.BYTES, "state");
        }
        prepare.launch(stream, 1, 1, state.buffer(), settings.learningRate(), settings.beta1(), settings.beta2(),
                settings.maxGradNorm());
        update.launch(stream, blocks(count, THREADS), THREADS, parameters, gradients, firstMoments, secondMoments,
                (int) count, state.buffer(), settings.learningRate(), settings.beta1(), settings.beta2(),
                settings.epsilon(), settings.weightDecay(), settings.decoupledWeightDecay() ? 1 : 0);
    }
}
