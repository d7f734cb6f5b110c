package dev.elbo4j.bench;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.DeviceBuffer;

/**
 * One tensor of a benchmark problem in every copy the benchmark cycles through ({@link GpuSession#copiesFor}):
 * one device allocation cut into {@code count} slots, so that thousands of copies of a small problem cost one
 * {@code cuMemAlloc}, not thousands. Slots start on 256-byte boundaries, the alignment {@code cuMemAlloc}
 * itself gives, so every copy keeps the kernels' 16-byte vector accesses.
 */
final class Slots {
    private static final long ALIGNMENT = 256;

    private final DeviceBuffer storage;
    private final long stride;
    private final DeviceBuffer[] slots;

    /** {@code count} slots of {@code bytes} bytes each, uninitialized. */
    Slots(CudaContext context, int count, long bytes) {
        if (count < 1 || bytes < 1) {
            throw new IllegalArgumentException("slots need count >= 1 and bytes >= 1, got " + count + " x " + bytes);
        }
        stride = (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        storage = context.allocate(count * stride);
        slots = new DeviceBuffer[count];
        for (int i = 0; i < count; i++) {
            slots[i] = storage.slice(i * stride, bytes);
        }
    }

    /** {@code count} slots each holding {@code values}. */
    static Slots of(CudaContext context, int count, float[] values) {
        Slots slots = new Slots(context, count, (long) values.length * Float.BYTES);
        slots.get(0).copyFrom(values);
        slots.replicateFirst();
        return slots;
    }

    /** {@code count} slots each holding {@code values}. */
    static Slots of(CudaContext context, int count, byte[] values) {
        Slots slots = new Slots(context, count, values.length);
        slots.get(0).copyFrom(values);
        slots.replicateFirst();
        return slots;
    }

    /** {@code count} slots of {@code floats} floats each, uninitialized (outputs). */
    static Slots floats(CudaContext context, int count, long floats) {
        return new Slots(context, count, floats * Float.BYTES);
    }

    /** Slot {@code i} as a buffer of exactly the tensor's size. */
    DeviceBuffer get(int i) {
        return slots[i];
    }

    /** Copies slot 0 into all others device to device, doubling the filled prefix each time (log2 copies). */
    private void replicateFirst() {
        int count = slots.length;
        for (int filled = 1; filled < count; filled *= 2) {
            long bytes = Math.min(filled, count - filled) * stride;
            storage.slice(filled * stride, bytes).copyFrom(storage.slice(0, bytes));
        }
    }
}
