package dev.elbo4j.bench;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.kernels.LatentKernels;
import dev.elbo4j.kernels.UnfusedElbo;
import dev.elbo4j.reference.Reparameterization;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;

/**
 * The latent backward (K = 1) with the noise regenerated from Philox: from dz (B x L) and [mu | logvar]
 * (B x 2L), d[mu | logvar] (B x 2L) including the KL gradient (beta = 1, row weight 1/B). Bytes per call:
 * [mu | logvar] and dz read, d[mu | logvar] written.
 */
public class LatentBackwardBench extends KernelBench {
    private float[] muLogvar;
    private float[] dz;
    private float[] dMuLogvar;

    private LatentKernels kernels;
    private UnfusedElbo unfused;
    private Slots muLogvarOnDevice;
    private Slots dzOnDevice;
    private Slots dMuLogvarOnDevice;

    @Override
    void createHostProblem(SplittableRandom random) {
        muLogvar = LatentForwardBench.encoderOutput(random, batch);
        dz = uniform(random, batch * LATENT, -1.0 / batch, 1.0 / batch);
        dMuLogvar = new float[batch * ROW_STRIDE];
    }

    @Override
    long deviceBytesPerCopy() {
        return bytesPerCall();
    }

    @Override
    long bytesPerCall() {
        return 2L * batch * ROW_STRIDE * Float.BYTES + (long) batch * LATENT * Float.BYTES;
    }

    @Override
    void createDeviceProblem(GpuSession gpu, int copies) {
        CudaContext context = gpu.context();
        kernels = new LatentKernels(context);
        unfused = new UnfusedElbo(context, latentShape, likelihoodShape);
        muLogvarOnDevice = Slots.of(context, copies, muLogvar);
        dzOnDevice = Slots.of(context, copies, dz);
        dMuLogvarOnDevice = Slots.floats(context, copies, dMuLogvar.length);
    }

    @Benchmark
    @OperationsPerInvocation(GpuSession.CALLS)
    public void fused(Traffic traffic) {
        timeBatch(traffic, i -> kernels.backward(gpu.stream(), latentShape, muLogvarOnDevice.get(i), dzOnDevice.get(i),
                SEED, OFFSET, 1f, 1f / batch, dMuLogvarOnDevice.get(i)));
    }

    @Benchmark
    @OperationsPerInvocation(GpuSession.CALLS)
    public void unfused(Traffic traffic) {
        timeBatch(traffic, i -> unfused.latentBackward(gpu.stream(), latentShape, muLogvarOnDevice.get(i),
                dzOnDevice.get(i), SEED, OFFSET, 1f, 1f / batch, dMuLogvarOnDevice.get(i)));
    }

    @Benchmark
    public void cpu(Traffic traffic) {
        Reparameterization.backward(latentShape, muLogvar, dz, SEED, OFFSET, 1f, 1f / batch, dMuLogvar);
        traffic.addCpuCall(bytesPerCall());
    }
}
