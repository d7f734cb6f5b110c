package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.LaunchChecks.disjoint;
import static dev.elbo4j.kernels.LaunchChecks.elements;
import static dev.elbo4j.kernels.LaunchChecks.finite;
import static dev.elbo4j.kernels.LaunchChecks.floats;
import static dev.elbo4j.kernels.LaunchChecks.optionalFloats;
import static dev.elbo4j.kernels.LaunchChecks.pointerOrNull;
import static dev.elbo4j.kernels.LaunchChecks.positive;

import java.util.Objects;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaFunction;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;

/**
 * The batch loss and the mean ELBO from per-row terms ({@code kernels/elbo_reduce.cu}), with K = 1: one block
 * sums the rows in a fixed order in double, so the same inputs give the same bits on every run. Everything is
 * checked before the launch; the work is enqueued on {@code stream} (null: the legacy default stream).
 */
public final class ElboReduction {
    static final String REDUCE = "elbo4j_elbo_reduce";
    /** Floats of the {@code totals} output: the loss, then the mean ELBO. */
    public static final int TOTALS = 2;
    private static final int THREADS = 256;

    private final CudaContext context;
    private final CudaFunction reduce;

    /** Binds the kernel of {@code context}'s module ({@link CudaContext#kernels()}). */
    public ElboReduction(CudaContext context) {
        this.context = Objects.requireNonNull(context, "context");
        this.reduce = context.kernels().function(REDUCE);
    }

    /**
     * Writes {@code totals[0] = loss = -(1/B) sum_b (logProb_b - beta * kl_b)} and
     * {@code totals[1] = mean ELBO = (1/B) sum_b (logProb_b - kl_b)}, both in nats per row, and optionally the
     * per-row {@code elbo[b] = logProb_b - kl_b}.
     *
     * @param logProb B, log p(x_b | z_b) from the likelihood kernel
     * @param kl      B, KL_b from the latent forward
     * @param batch   B, at least 1
     * @param beta    KL weight of the loss: 1 for the ELBO, other values for beta-VAE training (the mean ELBO
     *                always uses 1)
     * @param elbo    output, B; null when not wanted
     * @param totals  output, {@value #TOTALS} floats
     */
    public void reduce(CudaStream stream, DeviceBuffer logProb, DeviceBuffer kl, int batch, float beta,
                       DeviceBuffer elbo, DeviceBuffer totals) {
        check(stream, logProb, kl, batch, beta, elbo, totals);
        reduce.launch(stream, 1, THREADS, logProb, kl, batch, beta, pointerOrNull(elbo), totals);
    }

    /** The checks of {@link #reduce}, also made by the unfused baseline. */
    void check(CudaStream stream, DeviceBuffer logProb, DeviceBuffer kl, int batch, float beta, DeviceBuffer elbo,
               DeviceBuffer totals) {
        LaunchChecks.stream(stream, context);
        positive(batch, "B (batch)");
        elements("logProb (B)", batch);
        finite(beta, "beta");
        floats(logProb, "logProb", "B = " + batch, batch, context);
        floats(kl, "kl", "B = " + batch, batch, context);
        optionalFloats(elbo, "elbo", "B = " + batch, batch, context);
        floats(totals, "totals", "2 (loss, mean ELBO)", TOTALS, context);
        long rowBytes = (long) batch * Float.BYTES;
        long totalBytes = TOTALS * Float.BYTES;
        disjoint(elbo, rowBytes, "elbo", logProb, rowBytes, "logProb");
        disjoint(elbo, rowBytes, "elbo", kl, rowBytes, "kl");
        disjoint(totals, totalBytes, "totals", logProb, rowBytes, "logProb");
        disjoint(totals, totalBytes, "totals", kl, rowBytes, "kl");
        disjoint(totals, totalBytes, "totals", elbo, rowBytes, "elbo");
    }
}
