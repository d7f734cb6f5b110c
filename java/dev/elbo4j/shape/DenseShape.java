package dev.elbo4j.shape;

/**
 * A dense (fully connected) layer applied to a batch, as PyTorch's {@code nn.Linear} lays it out:
 * {@code x} (rows x inputs), the weight {@code W} (outputs x inputs), the bias (outputs) and
 * {@code y = x W^T + b} (rows x outputs), all row-major.
 *
 * @param rows    rows of x and y (the batch, or K*B latent samples), at least 1
 * @param inputs  columns of x and of W, at least 1
 * @param outputs columns of y, rows of W, length of the bias, at least 1
 */
public record DenseShape(int rows, int inputs, int outputs) {

    /** Checks every dimension. */
    public DenseShape {
        Dims.positive(rows, "rows");
        Dims.positive(inputs, "inputs");
        Dims.positive(outputs, "outputs");
    }

    /** This layer applied to {@code rows} rows. */
    public DenseShape withRows(int rows) {
        return new DenseShape(rows, inputs, outputs);
    }

    /** rows x inputs: the elements of x (and of its gradient). */
    public long inputElements() {
        return Dims.product("x (rows x inputs)", rows, inputs);
    }

    /** outputs x inputs: the elements of the weight (and of its gradient). */
    public long weightElements() {
        return Dims.product("weight (outputs x inputs)", outputs, inputs);
    }

    /** rows x outputs: the elements of y (and of its gradient). */
    public long outputElements() {
        return Dims.product("y (rows x outputs)", rows, outputs);
    }

    @Override
    public String toString() {
        return "rows x inputs -> outputs = " + rows + " x " + inputs + " -> " + outputs;
    }
}
