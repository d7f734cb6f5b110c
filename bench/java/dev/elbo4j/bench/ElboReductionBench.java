package dev.elbo4j.bench;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.kernels.ElboReduction;
import dev.elbo4j.kernels.ElboTotals;
import dev.elbo4j.kernels.UnfusedElbo;
import dev.elbo4j.reference.Elbo;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;

/**
 * The batch reduction: per-row log p and KL (B each) to the loss, the mean ELBO and the per-row ELBO. Bytes per
 * call: both inputs read, the per-row ELBO and the two totals written. Its time is launch latency more than
 * bandwidth at these sizes; it is here because the unfused baseline spends several launches on it.
 */
public class ElboReductionBench extends KernelBench {
    private float[] logProb;
    private float[] kl;
    private float[] elbo;

    private ElboReduction kernels;
    private UnfusedElbo unfused;
    private Slots logProbOnDevice;
    private Slots klOnDevice;
    private Slots elboOnDevice;
    private Slots totalsOnDevice;

    @Override
    void createHostProblem(SplittableRandom random) {
        logProb = uniform(random, batch, -300, -50);
        kl = uniform(random, batch, 5, 40);
        elbo = new float[batch];
    }

    @Override
    long deviceBytesPerCopy() {
        return bytesPerCall();
    }

    @Override
    long bytesPerCall() {
        return (3L * batch + ElboTotals.FLOATS) * Float.BYTES;
    }

    @Override
    void createDeviceProblem(GpuSession gpu, int copies) {
        CudaContext context = gpu.context();
        kernels = new ElboReduction(context);
        unfused = new UnfusedElbo(context, latentShape, likelihoodShape);
        logProbOnDevice = Slots.of(context, copies, logProb);
        klOnDevice = Slots.of(context, copies, kl);
        elboOnDevice = Slots.floats(context, copies, batch);
        totalsOnDevice = Slots.floats(context, copies, ElboTotals.FLOATS);
    }

    @Benchmark
    @OperationsPerInvocation(GpuSession.CALLS)
    public void fused(Traffic traffic) {
        timeBatch(traffic, i -> kernels.reduce(gpu.stream(), sampleShape, logProbOnDevice.get(i), klOnDevice.get(i), 1f,
                elboOnDevice.get(i), totalsOnDevice.get(i)));
    }

    @Benchmark
    @OperationsPerInvocation(GpuSession.CALLS)
    public void unfused(Traffic traffic) {
        timeBatch(traffic, i -> unfused.elboReduce(gpu.stream(), sampleShape, logProbOnDevice.get(i), klOnDevice.get(i),
                1f, elboOnDevice.get(i), totalsOnDevice.get(i)));
    }

    /** Returns the totals so that JMH consumes them. */
    @Benchmark
    public double cpu(Traffic traffic) {
        double loss = Elbo.loss(sampleShape, logProb, kl, 1f);
        double mean = Elbo.mean(sampleShape, logProb, kl);
        Elbo.perRow(sampleShape, logProb, kl, elbo);
        traffic.addCpuCall(bytesPerCall());
        return loss + mean;
    }
}
