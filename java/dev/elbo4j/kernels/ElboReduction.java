package dev.elbo4j.kernels;

import static dev.elbo4j.cuda.KernelParameter.FLOAT;
import static dev.elbo4j.cuda.KernelParameter.INT;
import static dev.elbo4j.cuda.KernelParameter.NULLABLE_POINTER;
import static dev.elbo4j.cuda.KernelParameter.POINTER;
import static dev.elbo4j.kernels.LaunchChecks.disjoint;
import static dev.elbo4j.kernels.LaunchChecks.finite;
import static dev.elbo4j.kernels.LaunchChecks.floats;
import static dev.elbo4j.kernels.LaunchChecks.indexable;
import static dev.elbo4j.kernels.LaunchChecks.oneSamplePerRow;
import static dev.elbo4j.kernels.LaunchChecks.optionalFloats;

import java.util.Objects;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaFunction;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.shape.SampleShape;

/**
 * The batch loss and the mean ELBO from per-row terms ({@code kernels/elbo_reduce.cu}), with K = 1: one block
 * sums the rows in a fixed order in double, so the same inputs give the same bits on every run. Everything is
 * checked before the launch; the work is enqueued on {@code stream} (null: the legacy default stream).
 */
public final class ElboReduction {
    static final String REDUCE = "elbo4j_elbo_reduce";
    private static final int THREADS = 256;

    private final CudaContext context;
    private final CudaFunction reduce;

    /** Binds the kernel of {@code context}'s module ({@link CudaContext#kernels()}). */
    public ElboReduction(CudaContext context) {
        this.context = Objects.requireNonNull(context, "context");
        // (logProb, kl, batch, beta, elbo, totals)
        this.reduce = context.kernels().function(REDUCE, POINTER, POINTER, INT, FLOAT, NULLABLE_POINTER, POINTER);
    }

    /**
     * Writes {@code totals = [loss, mean ELBO]} ({@link ElboTotals} reads them): {@code loss = -(1/B) sum_b (logProb_b
     * - beta * kl_b)} and {@code mean ELBO = (1/B) sum_b (logProb_b - kl_b)}, both in nats per row, and optionally
     * the per-row {@code elbo[b] = logProb_b - kl_b}.
     *
     * @param rows    B rows of one sample each ({@code SampleShape.of(B)}; K must be 1)
     * @param logProb B, log p(x_b | z_b) from the likelihood kernel
     * @param kl      B, KL_b from the latent forward
     * @param beta    KL weight of the loss: 1 for the ELBO, other values for beta-VAE training (the mean ELBO
     *                always uses 1)
     * @param elbo    output, B; null when not wanted
     * @param totals  output, {@value ElboTotals#FLOATS} floats: {@code [loss, mean ELBO]}
     */
    public void reduce(CudaStream stream, SampleShape rows, DeviceBuffer logProb, DeviceBuffer kl, float beta,
                       DeviceBuffer elbo, DeviceBuffer totals) {
        check(stream, rows, logProb, kl, beta, elbo, totals);
        reduce.launch(stream, 1, THREADS, logProb, kl, rows.batch(), beta, elbo, totals);
    }

    /** The checks of {@link #reduce}, also made by the unfused baseline. */
    void check(CudaStream stream, SampleShape rows, DeviceBuffer logProb, DeviceBuffer kl, float beta,
               DeviceBuffer elbo, DeviceBuffer totals) {
        Objects.requireNonNull(rows, "rows");
        LaunchChecks.stream(stream, context);
        oneSamplePerRow(rows, "ElboReduction.reduce");
        int batch = rows.batch();
        indexable("logProb (B) = " + batch, batch);
        finite(beta, "beta");
        floats(logProb, "logProb", "B = " + batch, batch, context);
        floats(kl, "kl", "B = " + batch, batch, context);
        optionalFloats(elbo, "elbo", "B = " + batch, batch, context);
        floats(totals, "totals", ElboTotals.FLOATS + " (loss, mean ELBO)", ElboTotals.FLOATS, context);
        long rowBytes = (long) batch * Float.BYTES;
        long totalBytes = ElboTotals.FLOATS * Float.BYTES;
        disjoint(elbo, rowBytes, "elbo", logProb, rowBytes, "logProb");
        disjoint(elbo, rowBytes, "elbo", kl, rowBytes, "kl");
        disjoint(totals, totalBytes, "totals", logProb, rowBytes, "logProb");
        disjoint(totals, totalBytes, "totals", kl, rowBytes, "kl");
        disjoint(totals, totalBytes, "totals", elbo, rowBytes, "elbo");
    }
}
