package dev.elbo4j.kernels;

import java.util.Objects;

import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;

/**
 * The two numbers {@link ElboReduction#reduce} writes, named: its {@code totals} output holds {@value #FLOATS}
 * floats, {@code [loss, mean ELBO]}, which have opposite signs (with {@code beta = 1}, {@code loss = -meanElbo}).
 * Read them through this record instead of by index.
 *
 * @param loss     {@code -(1/B) sum_b (log p_b - beta * KL_b)}, nats per row: the number training minimizes
 * @param meanElbo {@code (1/B) sum_b (log p_b - KL_b)}, nats per row: the bound itself (higher is better), always
 *                 with {@code beta = 1}
 */
public record ElboTotals(float loss, float meanElbo) {
    /** Floats of the {@code totals} output. */
    public static final int FLOATS = 2;
    /** Float index of the loss in {@code totals}. */
    public static final int LOSS_INDEX = 0;
    /** Float index of the mean ELBO in {@code totals}. */
    public static final int MEAN_ELBO_INDEX = 1;

    /**
     * The totals from the {@value #FLOATS} floats the kernel wrote (e.g. an array filled by
     * {@link DeviceBuffer#copyToAsync(float[], CudaStream)} once the stream is synchronized).
     *
     * @throws IllegalArgumentException unless {@code totals} has exactly {@value #FLOATS} elements
     */
    public static ElboTotals of(float[] totals) {
        Objects.requireNonNull(totals, "totals");
        if (totals.length != FLOATS) {
            throw new IllegalArgumentException("totals has " + totals.length + " floats but holds exactly " + FLOATS
                    + " (loss, mean ELBO)");
        }
        return new ElboTotals(totals[LOSS_INDEX], totals[MEAN_ELBO_INDEX]);
    }

    /**
     * Copies the first {@value #FLOATS} floats of a {@code totals} buffer to the host (a synchronous copy: it waits
     * for the reduction).
     *
     * @throws IllegalArgumentException when the buffer holds fewer than {@value #FLOATS} floats
     */
    public static ElboTotals read(DeviceBuffer totals) {
        Objects.requireNonNull(totals, "totals");
        if (totals.byteSize() < (long) FLOATS * Float.BYTES) {
            throw new IllegalArgumentException("totals (" + totals + ") holds fewer than " + FLOATS + " floats");
        }
        return of(totals.sliceFloats(0, FLOATS).toFloatArray());
    }
}
