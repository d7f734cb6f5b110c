package dev.elbo4j.kernels;

import static dev.elbo4j.cuda.KernelParameter.FLOAT;
import static dev.elbo4j.cuda.KernelParameter.INT;
import static dev.elbo4j.cuda.KernelParameter.LONG;
import static dev.elbo4j.cuda.KernelParameter.POINTER;
import static dev.elbo4j.kernels.LaunchChecks.disjoint;
import static dev.elbo4j.kernels.LaunchChecks.floats;

import java.util.Objects;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaFunction;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.nn.KlSchedule;
import dev.elbo4j.shape.LatentShape;

/**
 * The batch totals of a training step into the {@link DeviceStepState} ({@code kernels/loss_totals.cu}), with the
 * {@link KlSchedule} evaluated at the state's step counter {@code t} on the device (so a captured step graph warms
 * beta up as it replays):
 * <pre>
 *   betaT        = schedule.betaAt(t)
 *   klDim[l]     = (1/B) sum_b 0.5 (mu^2 + exp(logvar) - 1 - logvar)[b][l]
 *   klTerm       = freeBits &gt; 0 ? sum_l max(freeBits, klDim[l]) : (1/B) sum_b kl[b]
 *   loss         = -(1/(K*B)) sum_{k,b} logProb[k*B + b] + betaT * klTerm
 *   elbo         = (1/(K*B)) sum_{k,b} logProb[k*B + b] - (1/B) sum_b kl[b]          (beta = 1)
 *   klWeights[l] = betaT / B, or 0 where free bits hold the dimension (klDim[l] &lt; freeBits)
 * </pre>
 * The state receives loss, ELBO, the mean KL and betaT; when the loss is finite its epoch sums grow by them. One
 * block sums in double in a fixed order, so the bits are reproducible. Everything is checked before the launch;
 * the work is enqueued on {@code stream} (null: the legacy default stream).
 */
public final class LossTotalsKernels {
    static final String TOTALS = "elbo4j_loss_totals";
    private static final int THREADS = 256;

    private final CudaContext context;
    private final CudaFunction totals;

    /** Binds the kernel of {@code context}'s module ({@link CudaContext#kernels()}). */
    public LossTotalsKernels(CudaContext context) {
        this.context = Objects.requireNonNull(context, "context");
        // (state, beta, warmup steps, free bits, muLogvar, ld, batch, latent, samples, logProb, kl, klWeights)
        this.totals = context.kernels().function(TOTALS, POINTER, FLOAT, LONG, FLOAT, POINTER, INT, INT, INT, INT,
                POINTER, POINTER, POINTER);
    }

    /**
     * @param shape     K, B, L and the row stride of {@code muLogvar}
     * @param muLogvar  B x rowStride, the encoder's [mu | logvar]
     * @param logProb   K x B, the likelihood's per-sample log p
     * @param kl        B, the latent forward's per-row KL
     * @param schedule  beta, warm-up and free bits
     * @param state     its step counter picks the warm-up's beta; receives the totals
     * @param klWeights output, L: the latent backward's KL weight per dimension
     */
    public void compute(CudaStream stream, LatentShape shape, DeviceBuffer muLogvar, DeviceBuffer logProb,
                        DeviceBuffer kl, KlSchedule schedule, DeviceStepState state, DeviceBuffer klWeights) {
        Objects.requireNonNull(schedule, "schedule");
        Objects.requireNonNull(shape, "shape");
        LaunchChecks.stream(stream, context);
        LaunchChecks.state(state, context);
        long encoderElements = LaunchChecks.indexable("muLogvar (B x rowStride)", shape.encoderElements());
        long rows = LaunchChecks.indexable("logProb (K x B)", shape.sampleShape().rows());
        floats(muLogvar, "muLogvar", "B x rowStride = " + shape.batch() + " x " + shape.rowStride(), encoderElements,
                context);
        floats(logProb, "logProb", shape.sampleShape().toString(), rows, context);
        floats(kl, "kl", "B = " + shape.batch(), shape.batch(), context);
        floats(klWeights, "klWeights", "L = " + shape.latent(), shape.latent(), context);
        long weightBytes = (long) shape.latent() * Float.BYTES;
        disjoint(klWeights, weightBytes, "klWeights", muLogvar, encoderElements * Float.BYTES, "muLogvar");
        disjoint(klWeights, weightBytes, "klWeights", logProb, rows * Float.BYTES, "logProb");
        disjoint(klWeights, weightBytes, "klWeights", kl, (long) shape.batch() * Float.BYTES, "kl");
        disjoint(klWeights, weightBytes, "klWeights", state.buffer(), DeviceStepState.BYTES, "state");
        totals.launch(stream, 1, THREADS, state.buffer(), schedule.beta(), schedule.warmupSteps(),
                schedule.freeBits(), muLogvar, shape.rowStride(), shape.batch(), shape.latent(), shape.samples(),
                logProb, kl, klWeights);
    }
}
