package dev.elbo4j.bench;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.kernels.IwaeKernels;
import dev.elbo4j.kernels.UnfusedElbo;
import dev.elbo4j.reference.Iwae;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Param;

/**
 * The importance-weighted bound per row from K x B log p(x | z) and log p(z) - log q(z | x): the log weights
 * and their log-mean-exp over K. Bytes per call: both K x B inputs read, the B bounds written (the log weights
 * are not kept).
 */
public class IwaeBoundBench extends KernelBench {
    /** K, the importance samples per row. */
    @Param({"1", "64"})
    public int samples;

    @Override
    int samples() {
        return samples;
    }

    private float[] logPx;
    private float[] logRatio;
    private float[] logWeights;
    private float[] bound;

    private IwaeKernels kernels;
    private UnfusedElbo unfused;
    private Slots logPxOnDevice;
    private Slots logRatioOnDevice;
    private Slots boundOnDevice;

    @Override
    void createHostProblem(SplittableRandom random) {
        int weights = samples * batch;
        logPx = uniform(random, weights, -300, -50);
        logRatio = uniform(random, weights, -20, 20);
        logWeights = new float[weights];
        bound = new float[batch];
    }

    @Override
    long deviceBytesPerCopy() {
        return bytesPerCall();
    }

    @Override
    long bytesPerCall() {
        return (2L * samples * batch + batch) * Float.BYTES;
    }

    @Override
    void createDeviceProblem(GpuSession gpu, int copies) {
        CudaContext context = gpu.context();
        kernels = new IwaeKernels(context);
        unfused = new UnfusedElbo(context, latentShape, likelihoodShape);
        logPxOnDevice = Slots.of(context, copies, logPx);
        logRatioOnDevice = Slots.of(context, copies, logRatio);
        boundOnDevice = Slots.floats(context, copies, batch);
    }

    @Benchmark
    @OperationsPerInvocation(GpuSession.CALLS)
    public void fused(Traffic traffic) {
        timeBatch(traffic, i -> kernels.bound(gpu.stream(), sampleShape, logPxOnDevice.get(i), logRatioOnDevice.get(i),
                null, boundOnDevice.get(i)));
    }

    @Benchmark
    @OperationsPerInvocation(GpuSession.CALLS)
    public void unfused(Traffic traffic) {
        timeBatch(traffic, i -> unfused.iwaeBound(gpu.stream(), sampleShape, logPxOnDevice.get(i),
                logRatioOnDevice.get(i), null, boundOnDevice.get(i)));
    }

    /** The reference takes the log weights: the sum in float32, as the kernel rounds it, then the bound. */
    @Benchmark
    public void cpu(Traffic traffic) {
        for (int i = 0; i < logWeights.length; i++) {
            logWeights[i] = logPx[i] + logRatio[i];
        }
        Iwae.bound(sampleShape, logWeights, bound);
        traffic.addCpuCall(bytesPerCall());
    }
}
