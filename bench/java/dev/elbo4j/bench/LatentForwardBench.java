package dev.elbo4j.bench;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.kernels.LatentKernels;
import dev.elbo4j.kernels.UnfusedElbo;
import dev.elbo4j.reference.Reparameterization;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;

/**
 * The latent forward (K = 1): mu and logvar read in place from the encoder's B x 2L output, the noise drawn in
 * the kernel, z (B x L) and the per-row KL written. Bytes per call: [mu | logvar] read, z and KL written (the
 * noise is generated, not moved).
 */
public class LatentForwardBench extends KernelBench {
    private float[] muLogvar;
    private float[] z;
    private float[] kl;

    private LatentKernels kernels;
    private UnfusedElbo unfused;
    private Slots muLogvarOnDevice;
    private Slots zOnDevice;
    private Slots klOnDevice;

    @Override
    void createHostProblem(SplittableRandom random) {
        muLogvar = encoderOutput(random, batch);
        z = new float[batch * LATENT];
        kl = new float[batch];
    }

    /** B x 2L: mu in [-2, 2], logvar in [-4, 1], the ranges of a trained encoder. */
    static float[] encoderOutput(SplittableRandom random, int batch) {
        float[] out = new float[batch * ROW_STRIDE];
        for (int b = 0; b < batch; b++) {
            for (int l = 0; l < LATENT; l++) {
                out[b * ROW_STRIDE + l] = (float) random.nextDouble(-2, 2);
                out[b * ROW_STRIDE + LATENT + l] = (float) random.nextDouble(-4, 1);
            }
        }
        return out;
    }

    @Override
    long deviceBytesPerCopy() {
        return bytesPerCall();
    }

    @Override
    long bytesPerCall() {
        return (long) batch * ROW_STRIDE * Float.BYTES + (long) batch * LATENT * Float.BYTES
                + (long) batch * Float.BYTES;
    }

    @Override
    void createDeviceProblem(GpuSession gpu, int copies) {
        CudaContext context = gpu.context();
        kernels = new LatentKernels(context);
        unfused = new UnfusedElbo(context, latentShape, likelihoodShape);
        muLogvarOnDevice = Slots.of(context, copies, muLogvar);
        zOnDevice = Slots.floats(context, copies, z.length);
        klOnDevice = Slots.floats(context, copies, batch);
    }

    @Benchmark
    @OperationsPerInvocation(GpuSession.CALLS)
    public void fused(Traffic traffic) {
        timeBatch(traffic, i -> kernels.forward(gpu.stream(), latentShape, muLogvarOnDevice.get(i), SEED, OFFSET,
                zOnDevice.get(i), klOnDevice.get(i), null));
    }

    @Benchmark
    @OperationsPerInvocation(GpuSession.CALLS)
    public void unfused(Traffic traffic) {
        timeBatch(traffic, i -> unfused.latentForward(gpu.stream(), latentShape, muLogvarOnDevice.get(i), SEED, OFFSET,
                zOnDevice.get(i), klOnDevice.get(i), null));
    }

    @Benchmark
    public void cpu(Traffic traffic) {
        Reparameterization.forward(latentShape, muLogvar, SEED, OFFSET, z, kl);
        traffic.addCpuCall(bytesPerCall());
    }
}
