package dev.elbo4j.kernels;

import static dev.elbo4j.cuda.KernelParameter.INT;
import static dev.elbo4j.cuda.KernelParameter.NULLABLE_POINTER;
import static dev.elbo4j.cuda.KernelParameter.POINTER;
import static dev.elbo4j.kernels.LaunchChecks.blocks;
import static dev.elbo4j.kernels.LaunchChecks.disjoint;
import static dev.elbo4j.kernels.LaunchChecks.floats;

import java.util.Objects;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaFunction;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.cuda.Dim3;
import dev.elbo4j.shape.DenseShape;

/**
 * The bias gradient of a dense layer, {@code dBias[o] = sum_r dPre[r][o]} ({@code kernels/bias_grad.cu}), as a
 * deterministic two-stage column reduction without atomics: chunks of {@value #CHUNK_ROWS} rows are summed per
 * column in double in a fixed order into a workspace, then the chunks are added in chunk order. The order depends
 * on the shape alone, so the same inputs give the same bits on every run. A batch of at most {@value #CHUNK_ROWS}
 * rows is one chunk: one launch, no workspace.
 *
 * <p>The launcher allocates nothing: the caller provides the workspace ({@link #workspaceBytes}), once, so that the
 * calls can be captured into a CUDA graph. Everything is checked before the launch; the work is enqueued on
 * {@code stream} (null: the legacy default stream).
 */
public final class BiasGradientKernels {
    static final String PARTIAL = "elbo4j_bias_grad_partial";
    static final String FINAL = "elbo4j_bias_grad_final";
    /** Rows per chunk of the first stage ({@code ELBO4J_BIAS_GRAD_CHUNK_ROWS}). */
    public static final int CHUNK_ROWS = 256;
    private static final int THREADS = 256;
    private static final int COLUMNS_PER_BLOCK = 32;
    /** The largest grid y extent CUDA allows: the most chunks, so rows up to 65535 * 256. */
    private static final int MAX_CHUNKS = 65_535;

    private final CudaContext context;
    private final CudaFunction partial;
    private final CudaFunction combine;

    /** Binds the kernels of {@code context}'s module ({@link CudaContext#kernels()}). */
    public BiasGradientKernels(CudaContext context) {
        this.context = Objects.requireNonNull(context, "context");
        // (dpre, rows, cols, partials, dbias)
        this.partial = context.kernels().function(PARTIAL, POINTER, INT, INT, NULLABLE_POINTER, POINTER);
        // (partials, chunks, cols, dbias)
        this.combine = context.kernels().function(FINAL, POINTER, INT, INT, POINTER);
    }

    /** The chunks of the first stage: {@code ceil(rows / CHUNK_ROWS)}. */
    public static int chunks(DenseShape shape) {
        return (shape.rows() + CHUNK_ROWS - 1) / CHUNK_ROWS;
    }

    /** The workspace {@link #compute} needs for {@code shape}: chunks x outputs doubles, or 0 for one chunk. */
    public static long workspaceBytes(DenseShape shape) {
        Objects.requireNonNull(shape, "shape");
        int chunks = chunks(shape);
        return chunks == 1 ? 0 : (long) chunks * shape.outputs() * Double.BYTES;
    }

    /**
     * {@code dBias[o] = sum_r dPreActivation[r][o]} for {@code o < outputs} over {@code r < rows}.
     *
     * @param dPreActivation rows x outputs
     * @param workspace      at least {@link #workspaceBytes} bytes, 8-byte aligned; may be null when that is 0
     * @param dBias          output, outputs
     */
    public void compute(CudaStream stream, DenseShape shape, DeviceBuffer dPreActivation, DeviceBuffer workspace,
                        DeviceBuffer dBias) {
        Objects.requireNonNull(shape, "shape");
        LaunchChecks.stream(stream, context);
        long elements = LaunchChecks.indexable("dPreActivation (rows x outputs) = " + shape.rows() + " x "
                + shape.outputs(), shape.outputElements());
        floats(dPreActivation, "dPreActivation", "rows x outputs = " + shape.rows() + " x " + shape.outputs(),
                elements, context);
        floats(dBias, "dBias", "outputs = " + shape.outputs(), shape.outputs(), context);
        int chunks = chunks(shape);
        if (chunks > MAX_CHUNKS) {
            throw new IllegalArgumentException("rows = " + shape.rows() + " is more than the bias gradient's "
                    + (long) MAX_CHUNKS * CHUNK_ROWS + " rows (" + MAX_CHUNKS + " chunks of " + CHUNK_ROWS + ")");
        }
        long biasBytes = (long) shape.outputs() * Float.BYTES;
        disjoint(dBias, biasBytes, "dBias", dPreActivation, elements * Float.BYTES, "dPreActivation");
        if (chunks > 1) {
            long partials = (long) chunks * shape.outputs();
            LaunchChecks.doubles(workspace, chunks + " chunks x " + shape.outputs() + " outputs doubles = "
                    + workspaceBytes(shape) + " bytes", partials, context);
            long workspaceBytes = partials * Double.BYTES;
            disjoint(workspace, workspaceBytes, "workspace", dPreActivation, elements * Float.BYTES, "dPreActivation");
            disjoint(workspace, workspaceBytes, "workspace", dBias, biasBytes, "dBias");
        }
        Dim3 grid = new Dim3(blocks(shape.outputs(), COLUMNS_PER_BLOCK), chunks, 1);
        partial.launch(stream, grid, Dim3.of(THREADS), dPreActivation, shape.rows(), shape.outputs(),
                chunks > 1 ? workspace : null, dBias);
        if (chunks > 1) {
            combine.launch(stream, blocks(shape.outputs(), THREADS), THREADS, workspace, chunks, shape.outputs(),
                    dBias);
        }
    }
}
