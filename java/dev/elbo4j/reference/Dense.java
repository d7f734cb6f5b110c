package dev.elbo4j.reference;

import java.util.Objects;

import dev.elbo4j.nn.Activation;
import dev.elbo4j.shape.DenseShape;

/**
 * A dense layer with its activation, laid out as PyTorch's {@code nn.Linear} (see {@link DenseShape}):
 * {@code pre = x W^T + b}, {@code y = act(pre)}, and its backward (contract, "Dense layers"). Arithmetic is double
 * from the float32 inputs; each output element is rounded once to float32.
 */
public final class Dense {

    private Dense() {
    }

    /**
     * Forward: {@code pre[r][o] = sum_i x[r][i] W[o][i] + b[o]}, {@code y[r][o] = act(pre[r][o])}.
     *
     * @param x             rows x inputs
     * @param weight        outputs x inputs
     * @param bias          outputs
     * @param preActivation output, rows x outputs, the float32 pre-activation the backward takes; null when not wanted
     * @param y             output, rows x outputs
     */
    public static void forward(DenseShape shape, float[] x, float[] weight, float[] bias, Activation activation,
                               float[] preActivation, float[] y) {
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(activation, "activation");
        int rows = shape.rows();
        int inputs = shape.inputs();
        int outputs = shape.outputs();
        Check.shape(x, "x", "rows x inputs", rows, inputs);
        Check.shape(weight, "weight", "outputs x inputs", outputs, inputs);
        Check.shape(bias, "bias", "outputs", outputs);
        if (preActivation != null) {
            Check.shape(preActivation, "preActivation", "rows x outputs", rows, outputs);
        }
        Check.shape(y, "y", "rows x outputs", rows, outputs);
        Rows.forEach(rows, (long) inputs * outputs, r -> {
            for (int o = 0; o < outputs; o++) {
                double pre = bias[o];
                for (int i = 0; i < inputs; i++) {
                    pre += (double) x[r * inputs + i] * weight[o * inputs + i];
                }
                if (preActivation != null) {
                    preActivation[r * outputs + o] = (float) pre;
                }
                y[r * outputs + o] = (float) activation.apply(pre);
            }
        });
    }

    /**
     * Backward, given {@code dY = dLoss/dy}: with {@code dPre = dY * act'(pre)} (not rounded),
     * <pre>
     *   dWeight[o][i] = sum_r dPre[r][o] x[r][i]
     *   dBias[o]      = sum_r dPre[r][o]
     *   dX[r][i]      = sum_o dPre[r][o] W[o][i]
     * </pre>
     *
     * @param x             rows x inputs, the forward's input
     * @param weight        outputs x inputs
     * @param preActivation rows x outputs, the forward's float32 pre-activation
     * @param dY            rows x outputs
     * @param dX            output, rows x inputs; null when not wanted (the first layer)
     * @param dWeight       output, outputs x inputs
     * @param dBias         output, outputs
     */
    public static void backward(DenseShape shape, float[] x, float[] weight, float[] preActivation,
                                Activation activation, float[] dY, float[] dX, float[] dWeight, float[] dBias) {
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(activation, "activation");
        int rows = shape.rows();
        int inputs = shape.inputs();
        int outputs = shape.outputs();
        Check.shape(x, "x", "rows x inputs", rows, inputs);
        Check.shape(weight, "weight", "outputs x inputs", outputs, inputs);
        Check.shape(preActivation, "preActivation", "rows x outputs", rows, outputs);
        Check.shape(dY, "dY", "rows x outputs", rows, outputs);
        if (dX != null) {
            Check.shape(dX, "dX", "rows x inputs", rows, inputs);
        }
        Check.shape(dWeight, "dWeight", "outputs x inputs", outputs, inputs);
        Check.shape(dBias, "dBias", "outputs", outputs);
        double[] dPre = new double[rows * outputs];
        for (int n = 0; n < dPre.length; n++) {
            dPre[n] = dY[n] * activation.derivative(preActivation[n]);
        }
        Rows.forEach(outputs, (long) rows * inputs, o -> {
            double biasSum = 0;
            for (int r = 0; r < rows; r++) {
                biasSum += dPre[r * outputs + o];
            }
            dBias[o] = (float) biasSum;
            for (int i = 0; i < inputs; i++) {
                double sum = 0;
                for (int r = 0; r < rows; r++) {
                    sum += dPre[r * outputs + o] * x[r * inputs + i];
                }
                dWeight[o * inputs + i] = (float) sum;
            }
        });
        if (dX != null) {
            Rows.forEach(rows, (long) inputs * outputs, r -> {
                for (int i = 0; i < inputs; i++) {
                    double sum = 0;
                    for (int o = 0; o < outputs; o++) {
                        sum += dPre[r * outputs + o] * weight[o * inputs + i];
                    }
                    dX[r * inputs + i] = (float) sum;
                }
            });
        }
    }
}
