package dev.elbo4j.kernels;

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
import dev.elbo4j.nn.Activation;
import dev.elbo4j.shape.DenseShape;

/**
 * The elementwise work of a dense layer around its GEMMs ({@code kernels/activation.cu}), for the layer of a
 * {@link DenseShape} (y = act(x W^T + b), rows x outputs): the bias and activation after the forward GEMM, and the
 * activation's derivative before the backward GEMMs, as {@link dev.elbo4j.reference.Dense} defines them.
 *
 * <p>The backward needs the pre-activation for {@link Activation#TANH} and {@link Activation#SILU}; for
 * {@link Activation#IDENTITY}, {@link Activation#RELU} and {@link Activation#LEAKY_RELU} the output does as well
 * (their derivative depends only on the sign, and {@code y > 0} exactly when {@code pre > 0}), so those layers may
 * write their output over the pre-activation ({@link #backwardReadsOutput}).
 *
 * <p>Float32 arithmetic in formulas that do not cancel; elementwise, so any grid order gives the same bits. Every
 * argument is checked before the launch; the work is enqueued on {@code stream} (null: the legacy default stream).
 */
public final class ActivationKernels {
    static final String FORWARD = "elbo4j_bias_activation_forward";
    static final String BACKWARD = "elbo4j_activation_backward";
    private static final int THREADS = 256;

    private final CudaContext context;
    private final CudaFunction forward;
    private final CudaFunction backward;

    /** Binds the kernels of {@code context}'s module ({@link CudaContext#kernels()}). */
    public ActivationKernels(CudaContext context) {
        this.context = Objects.requireNonNull(context, "context");
        // (pre, bias, rows, cols, activation, out)
        this.forward = context.kernels().function(FORWARD, POINTER, POINTER, INT, INT, INT, POINTER);
        // (dy, saved, n, activation, dpre)
        this.backward = context.kernels().function(BACKWARD, POINTER, POINTER, INT, INT, POINTER);
    }

    /**
     * Whether {@link #backward} of {@code activation} may read the layer's output in place of its pre-activation:
     * true for IDENTITY, RELU and LEAKY_RELU, whose derivative depends on the sign alone.
     */
    public static boolean backwardReadsOutput(Activation activation) {
        return switch (Objects.requireNonNull(activation, "activation")) {
            case IDENTITY, RELU, LEAKY_RELU -> true;
            case TANH, SILU -> false;
        };
    }

    /**
     * After the forward GEMM wrote {@code x W^T} into {@code preActivation}: {@code preActivation[r][o] += bias[o]},
     * then {@code output[r][o] = activation(preActivation[r][o])}, for {@code r < rows}, {@code o < outputs}.
     *
     * @param shape         the layer on its batch (rows x outputs are used)
     * @param preActivation rows x outputs: {@code x W^T} on entry, {@code x W^T + b} on exit (unless it is
     *                      {@code output})
     * @param bias          outputs
     * @param output        rows x outputs; may be {@code preActivation} itself only when
     *                      {@link #backwardReadsOutput} (the pre-activation is then not kept), else disjoint from it
     */
    public void forward(CudaStream stream, DenseShape shape, DeviceBuffer preActivation, DeviceBuffer bias,
                        Activation activation, DeviceBuffer output) {
        long elements = checkLayer(stream, shape, activation);
        String outputShape = outputShape(shape);
        floats(bias, "bias", "outputs = " + shape.outputs(), shape.outputs(), context);
        floats(preActivation, "preActivation", outputShape, elements, context);
        floats(output, "output", outputShape, elements, context);
        long bytes = elements * Float.BYTES;
        long biasBytes = (long) shape.outputs() * Float.BYTES;
        if (LaunchChecks.sameStart(preActivation, output)) {
            if (!backwardReadsOutput(activation)) {
                throw new IllegalArgumentException("output is preActivation, but the backward of " + activation
                        + " needs the pre-activation: give the output its own buffer");
            }
        } else {
            disjoint(output, bytes, "output", preActivation, bytes, "preActivation");
        }
        disjoint(preActivation, bytes, "preActivation", bias, biasBytes, "bias");
        disjoint(output, bytes, "output", bias, biasBytes, "bias");
        boolean vector = shape.outputs() % 4 == 0 && preActivation.isAligned(16) && output.isAligned(16);
        forward.launch(stream, blocks(vector ? elements / 4 : elements, THREADS), THREADS,
                preActivation, bias, shape.rows(), shape.outputs(), code(activation), output);
    }

    /**
     * {@code dPreActivation[r][o] = dOutput[r][o] * activation'(pre[r][o])} (rows x outputs), with the derivative
     * taken from {@code saved}.
     *
     * @param saved          rows x outputs: the forward's pre-activation, or its output when
     *                       {@link #backwardReadsOutput}
     * @param dOutput        rows x outputs, dLoss/dy
     * @param dPreActivation output, rows x outputs; may be {@code dOutput} itself, else disjoint from it
     */
    public void backward(CudaStream stream, DenseShape shape, DeviceBuffer saved, DeviceBuffer dOutput,
                         Activation activation, DeviceBuffer dPreActivation) {
        long elements = checkLayer(stream, shape, activation);
        String outputShape = outputShape(shape);
        floats(saved, "saved", outputShape, elements, context);
        floats(dOutput, "dOutput", outputShape, elements, context);
        floats(dPreActivation, "dPreActivation", outputShape, elements, context);
        long bytes = elements * Float.BYTES;
        if (!LaunchChecks.sameStart(dPreActivation, dOutput)) {
            disjoint(dPreActivation, bytes, "dPreActivation", dOutput, bytes, "dOutput");
        }
        disjoint(dPreActivation, bytes, "dPreActivation", saved, bytes, "saved");
        boolean vector = elements % 4 == 0 && saved.isAligned(16) && dOutput.isAligned(16)
                && dPreActivation.isAligned(16);
        backward.launch(stream, blocks(vector ? elements / 4 : elements, THREADS), THREADS,
                dOutput, saved, (int) elements, code(activation), dPreActivation);
    }

    /** The kernels' activation codes ({@code ELBO4J_ACTIVATION_*} in activation.cu). */
    static int code(Activation activation) {
        return switch (activation) {
            case IDENTITY -> 0;
            case RELU -> 1;
            case TANH -> 2;
            case LEAKY_RELU -> 3;
            case SILU -> 4;
        };
    }

    /** The checks both launches begin with; returns the rows x outputs elements. */
    private long checkLayer(CudaStream stream, DenseShape shape, Activation activation) {
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(activation, "activation");
        LaunchChecks.stream(stream, context);
        return LaunchChecks.indexable("y (rows x outputs) = " + shape.rows() + " x " + shape.outputs(),
                shape.outputElements());
    }

    private static String outputShape(DenseShape shape) {
        return "rows x outputs = " + shape.rows() + " x " + shape.outputs();
    }
}
