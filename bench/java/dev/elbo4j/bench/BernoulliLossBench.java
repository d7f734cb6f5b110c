package dev.elbo4j.bench;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.kernels.BernoulliKernels;
import dev.elbo4j.kernels.Binarization;
import dev.elbo4j.kernels.TargetFormat;
import dev.elbo4j.kernels.UnfusedElbo;
import dev.elbo4j.reference.Bernoulli;
import dev.elbo4j.reference.Targets;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Param;

/**
 * The Bernoulli loss and logit gradient (B x D logits, K = 1): per-row log p and the gradient of the batch-mean
 * loss, {@code gradScale = 1/B}. Bytes per call: logits and x read, the gradient and log p written. At
 * B = 4096 with float32 x this is the kernel with the bandwidth target (85% of the device-to-device copy).
 */
public class BernoulliLossBench extends KernelBench {
    /** How x is stored: float32, uint8 pixels (a quarter of the bytes), or uint8 binarized in the same pass. */
    @Param({"float32", "uint8", "uint8-binarized"})
    public String x;

    private float[] logits;
    private Targets targets;
    private float[] values;
    private byte[] pixels;
    private float[] logProb;
    private float[] grad;

    private TargetFormat format;
    private Binarization binarization;
    private BernoulliKernels kernels;
    private UnfusedElbo unfused;
    private Slots logitsOnDevice;
    private Slots xOnDevice;
    private Slots logProbOnDevice;
    private Slots gradOnDevice;

    @Override
    void createHostProblem(SplittableRandom random) {
        int elements = batch * DIMS;
        logits = uniform(random, elements, -10, 10);
        switch (x) {
            case "float32" -> {
                format = TargetFormat.FLOAT32;
                values = uniform(random, elements, 0, 1);
                targets = Targets.values(values);
            }
            case "uint8", "uint8-binarized" -> {
                format = TargetFormat.PIXELS_U8;
                pixels = pixels(random, elements);
                targets = Targets.pixels(pixels);
            }
            default -> throw new IllegalArgumentException("x must be float32, uint8 or uint8-binarized, not " + x);
        }
        if (x.endsWith("-binarized")) {
            binarization = new Binarization(SEED, OFFSET);
            targets = targets.binarized(SEED, OFFSET);
        }
        logProb = new float[batch];
        grad = new float[elements];
    }

    @Override
    long deviceBytesPerCopy() {
        return bytesPerCall();
    }

    @Override
    long bytesPerCall() {
        long elements = (long) batch * DIMS;
        return elements * Float.BYTES + elements * format.bytesPerElement() + elements * Float.BYTES
                + (long) batch * Float.BYTES;
    }

    @Override
    void createDeviceProblem(GpuSession gpu, int copies) {
        CudaContext context = gpu.context();
        kernels = new BernoulliKernels(context);
        unfused = new UnfusedElbo(context, latentShape, likelihoodShape);
        logitsOnDevice = Slots.of(context, copies, logits);
        xOnDevice = format == TargetFormat.FLOAT32
                ? Slots.of(context, copies, values)
                : Slots.of(context, copies, pixels);
        logProbOnDevice = Slots.floats(context, copies, batch);
        gradOnDevice = Slots.floats(context, copies, logits.length);
    }

    @Benchmark
    @OperationsPerInvocation(GpuSession.CALLS)
    public void fused(Traffic traffic) {
        timeBatch(traffic, i -> kernels.lossAndGradient(gpu.stream(), likelihoodShape, logitsOnDevice.get(i),
                xOnDevice.get(i), format, binarization, 1f / batch, logProbOnDevice.get(i), gradOnDevice.get(i)));
    }

    @Benchmark
    @OperationsPerInvocation(GpuSession.CALLS)
    public void unfused(Traffic traffic) {
        timeBatch(traffic, i -> unfused.bernoulliLossAndGradient(gpu.stream(), likelihoodShape, logitsOnDevice.get(i),
                xOnDevice.get(i), format, binarization, 1f / batch, logProbOnDevice.get(i), gradOnDevice.get(i)));
    }

    @Benchmark
    public void cpu(Traffic traffic) {
        Bernoulli.logProbAndGrad(likelihoodShape, logits, targets, 1f / batch, logProb, grad);
        traffic.addCpuCall(bytesPerCall());
    }
}
