package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.KernelAssertions.assertBitIdentical;
import static dev.elbo4j.kernels.KernelAssertions.poisoned;
import static dev.elbo4j.kernels.KernelAssertions.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.nn.StepStatus;
import dev.elbo4j.reference.Targets;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.LikelihoodShape;

/**
 * The batch gather ({@link GatherKernels}) against the reference's reading of pixels ({@link Targets#pixels}, p / 255,
 * and its dynamic binarization under the state's step) on fresh random data: D = 784 (the uchar4/float4 path), odd
 * D (the scalar path), B = 1, a cursor inside the order, a step counter past 2^32 (the offset is its low 32 bits),
 * and indices or positions out of range (NaN rows, never a read outside the data set).
 */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, TestRandom.Extension.class})
class GatherKernelsTest {
    private final CudaContext cuda;
    private final GatherKernels kernels;

    GatherKernelsTest(CudaContext cuda) {
        this.cuda = cuda;
        this.kernels = new GatherKernels(cuda);
    }

    /** The reference's x for the batch: rows order[cursor + b] of the data set, binarized or not. */
    private static float[] expected(byte[] dataset, int dims, int[] order, int cursor, int batch, boolean binarize,
                                    long seed, long step) {
        byte[] rows = new byte[batch * dims];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(dataset, order[cursor + b] * dims, rows, b * dims, dims);
        }
        Targets targets = Targets.pixels(rows);
        if (binarize) {
            targets = targets.binarized(seed, (int) step);
        }
        float[] out = new float[batch * dims];
        float[] row = new float[dims];
        for (int b = 0; b < batch; b++) {
            targets.row(b, dims, row);
            System.arraycopy(row, 0, out, b * dims, dims);
        }
        return out;
    }

    private float[] gather(byte[] dataset, int datasetRows, int dims, int[] order, long orderCount, long cursor,
                           long step, int batch, boolean binarize, long seed) {
        try (DeviceStepState state = DeviceStepState.allocate(cuda); DeviceBuffer data = upload(cuda, dataset);
             DeviceBuffer orderBuffer = cuda.allocate((long) order.length * Integer.BYTES);
             DeviceBuffer x = poisoned(cuda, (long) batch * dims)) {
            orderBuffer.copyFrom(order);
            state.write(StepStatus.initial().atStep(step).atEpochStart(cursor));
            kernels.gather(null, LikelihoodShape.of(batch, dims), data, datasetRows, orderBuffer, orderCount, state,
                    binarize, seed, x);
            return x.toFloatArray();
        }
    }

    private static int[] shuffledOrder(TestRandom random, int rows) {
        int[] order = new int[rows];
        for (int i = 0; i < rows; i++) {
            order[i] = i;
        }
        for (int i = rows - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
        }
        return order;
    }

    @Test
    void gathersTheOrderedRowsAsTheReferenceReadsThem(TestRandom random) {
        int[][] shapes = {{784, 7, 40}, {783, 5, 20}, {1, 1, 3}, {13, 9, 30}, {4, 1, 2}};
        for (int[] shape : shapes) {
            int dims = shape[0], batch = shape[1], rows = shape[2];
            byte[] dataset = random.pixels(rows * dims);
            int[] order = shuffledOrder(random, rows);
            int cursor = random.nextInt(rows - batch + 1);
            long seed = random.nextLong();
            long step = random.nextInt(1 << 30) + (random.nextInt(2) == 0 ? 0 : 5L << 32);
            for (boolean binarize : new boolean[] {false, true}) {
                String where = "D=" + dims + " B=" + batch + " cursor " + cursor + " step " + step
                        + (binarize ? " binarized" : "");
                float[] actual = gather(dataset, rows, dims, order, rows, cursor, step, batch, binarize, seed);
                assertBitIdentical(where, expected(dataset, dims, order, cursor, batch, binarize, seed, step), actual);
            }
        }
    }

    @Test
    void rowsOutsideTheOrderOrTheDataSetAreNaN(TestRandom random) {
        int dims = 8;
        int rows = 6;
        byte[] dataset = random.pixels(rows * dims);
        int[] order = {0, 5, -1, 6, 2, 3};
        // Batch rows 0..3 at cursor 2: order[2] = -1 and order[3] = 6 are outside the data set; positions 6 and 7
        // are past the 6 valid indices.
        float[] x = gather(dataset, rows, dims, order, order.length, 2, 0, 6, false, 1L);
        for (int b = 0; b < 6; b++) {
            boolean valid = b == 2 || b == 3;
            for (int d = 0; d < dims; d++) {
                float value = x[b * dims + d];
                if (valid) {
                    assertEquals((dataset[order[2 + b] * dims + d] & 0xFF) / 255f, value, "row " + b);
                } else {
                    assertTrue(Float.isNaN(value), "row " + b + " column " + d + " = " + value + ": must be NaN");
                }
            }
        }
    }

    @Test
    void badArgumentsAreRefused() {
        LikelihoodShape shape = LikelihoodShape.of(4, 10);
        try (DeviceStepState state = DeviceStepState.allocate(cuda); DeviceBuffer data = cuda.allocate(50);
             DeviceBuffer order = cuda.allocate(20); DeviceBuffer x = poisoned(cuda, 40)) {
            IllegalArgumentException shortData = assertThrows(IllegalArgumentException.class,
                    () -> kernels.gather(null, shape, data, 6, order, 5, state, false, 0L, x));
            assertTrue(shortData.getMessage().contains("dataset") && shortData.getMessage().contains("6 x 10"),
                    shortData.getMessage());
            IllegalArgumentException shortOrder = assertThrows(IllegalArgumentException.class,
                    () -> kernels.gather(null, shape, data, 5, order, 6, state, false, 0L, x));
            assertTrue(shortOrder.getMessage().contains("order"), shortOrder.getMessage());
            IllegalArgumentException shortX = assertThrows(IllegalArgumentException.class,
                    () -> kernels.gather(null, LikelihoodShape.of(5, 10), data, 5, order, 5, state, false, 0L, x));
            assertTrue(shortX.getMessage().contains("x"), shortX.getMessage());
        }
    }
}
