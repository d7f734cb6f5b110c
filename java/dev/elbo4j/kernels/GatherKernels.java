package dev.elbo4j.kernels;

import static dev.elbo4j.cuda.KernelParameter.INT;
import static dev.elbo4j.cuda.KernelParameter.LONG;
import static dev.elbo4j.cuda.KernelParameter.POINTER;
import static dev.elbo4j.kernels.LaunchChecks.blocks;
import static dev.elbo4j.kernels.LaunchChecks.buffer;
import static dev.elbo4j.kernels.LaunchChecks.disjoint;
import static dev.elbo4j.kernels.LaunchChecks.floats;

import java.util.Objects;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaFunction;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.shape.LikelihoodShape;

/**
 * A batch gathered from a data set resident on the device ({@code kernels/gather.cu}): the data set stays in device
 * memory as unsigned 8-bit pixels (60000 x 784 is 47 MB), an epoch uploads only its shuffled row order, and each
 * step converts its rows to the encoder's float input there:
 * <pre>
 *   p = dataset[order[cursor + b]][d]                    (cursor: the state's batch cursor)
 *   x[b][d] = binarize ? (1 or 0: the spec's dynamic binarization of p / 255 by u) : p / 255
 * </pre>
 * with {@code u} the Philox uniform of element {@code b*D + d}, stream 1, under {@code (seed, the state's step)}:
 * what the Bernoulli kernel's in-pass binarization of batch row b draws. The cursor and the step come from the
 * {@link DeviceStepState}, so a captured step graph gathers the next batch at each replay.
 *
 * <p>The order lives on the device, so the kernel checks it: a row whose position is past {@code orderCount} or
 * whose index is outside {@code [0, datasetRows)} is written as NaN, which makes the step's loss non-finite and the
 * guard skip it, instead of reading outside the data set. Everything else is checked before the launch; the work
 * is enqueued on {@code stream} (null: the legacy default stream).
 */
public final class GatherKernels {
    static final String GATHER = "elbo4j_gather_rows";
    private static final int THREADS = 256;

    private final CudaContext context;
    private final CudaFunction gather;

    /** Binds the kernel of {@code context}'s module ({@link CudaContext#kernels()}). */
    public GatherKernels(CudaContext context) {
        this.context = Objects.requireNonNull(context, "context");
        // (data, data rows, dims, indices, index count, state, batch, binarize, seed, out)
        this.gather = context.kernels().function(GATHER, POINTER, INT, INT, POINTER, LONG, POINTER, INT, INT, LONG,
                POINTER);
    }

    /**
     * @param shape       its data shape B x D is the batch's (K is not used)
     * @param dataset     datasetRows x D unsigned bytes
     * @param datasetRows N, at least 1
     * @param order       at least {@code orderCount} int32 row indices (an epoch's shuffled order)
     * @param orderCount  the valid indices in {@code order}, at least 1
     * @param binarize    whether to binarize x (dynamic binarization)
     * @param seed        the Philox key of the binarization
     * @param x           output, B x D floats
     */
    public void gather(CudaStream stream, LikelihoodShape shape, DeviceBuffer dataset, int datasetRows,
                       DeviceBuffer order, long orderCount, DeviceStepState state, boolean binarize, long seed,
                       DeviceBuffer x) {
        Objects.requireNonNull(shape, "shape");
        LaunchChecks.stream(stream, context);
        LaunchChecks.state(state, context);
        if (datasetRows < 1) {
            throw new IllegalArgumentException("the data set must have at least 1 row but has " + datasetRows);
        }
        if (orderCount < 1) {
            throw new IllegalArgumentException("the order must hold at least 1 index but holds " + orderCount);
        }
        int batch = shape.batch();
        int dims = shape.dims();
        long dataElements = LaunchChecks.indexable("x (B x D) = " + batch + " x " + dims, shape.dataElements());
        long datasetBytes = (long) datasetRows * dims;
        buffer(dataset, "dataset", "N x D = " + datasetRows + " x " + dims + " (unsigned bytes)", datasetBytes, 1,
                context);
        buffer(order, "order", orderCount + " row indices (int32)", orderCount, Integer.BYTES, context);
        floats(x, "x", "B x D = " + batch + " x " + dims, dataElements, context);
        long xBytes = dataElements * Float.BYTES;
        disjoint(x, xBytes, "x", dataset, datasetBytes, "dataset");
        disjoint(x, xBytes, "x", order, orderCount * Integer.BYTES, "order");
        disjoint(x, xBytes, "x", state.buffer(), DeviceStepState.BYTES, "state");
        boolean vector = dims % 4 == 0 && dataset.isAligned(4) && x.isAligned(16);
        gather.launch(stream, blocks(vector ? dataElements / 4 : dataElements, THREADS), THREADS,
                dataset, datasetRows, dims, order, orderCount, state.buffer(), batch, binarize ? 1 : 0, seed, x);
    }
}
