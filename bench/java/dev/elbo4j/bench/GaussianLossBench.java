package dev.elbo4j.bench;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.kernels.GaussianKernels;
import dev.elbo4j.kernels.UnfusedElbo;
import dev.elbo4j.reference.Gaussian;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.Param;

/**
 * The Gaussian loss and gradients (B x D means, K = 1, gradScale = 1/B) in each log-variance mode. Bytes per
 * call: means and x read, plus the log-variance (D or B x D) where it is an input; log p and the mean gradient
 * written, plus the log-variance gradient (D or B x D) where there is one. The per-dimension mode's
 * workspace of partial sums is the kernel's own traffic and not counted.
 */
public class GaussianLossBench extends KernelBench {
    /** Where the log-variance lives: a fixed scalar, a learned D vector, or a B x D decoder output. */
    @Param({"fixed", "perDimension", "perRow"})
    public String logVariance;

    /** The fixed log-variance: sigma = e^-1. */
    private static final float FIXED_LOG_VARIANCE = -2f;

    private float[] mean;
    private float[] x;
    private float[] logVarValues;
    private Gaussian.LogVariance hostLogVar;
    private float[] logProb;
    private float[] gradMean;
    private float[] gradLogVar;

    private GaussianKernels kernels;
    private UnfusedElbo unfused;
    private Slots meanOnDevice;
    private Slots xOnDevice;
    /** The log-variance of each copy as the launchers take it. */
    private GaussianKernels.LogVariance[] logVarOnDevice;
    private Slots logProbOnDevice;
    private Slots gradMeanOnDevice;
    /** Null for the fixed log-variance, which has no gradient. */
    private Slots gradLogVarOnDevice;
    /** The per-dimension mode's partial sums; null in the other modes. */
    private Slots workspaceOnDevice;

    @Override
    void createHostProblem(SplittableRandom random) {
        int elements = batch * DIMS;
        mean = uniform(random, elements, 0, 1);
        x = uniform(random, elements, 0, 1);
        logProb = new float[batch];
        gradMean = new float[elements];
        switch (logVariance) {
            case "fixed" -> hostLogVar = new Gaussian.LogVariance.Fixed(FIXED_LOG_VARIANCE);
            case "perDimension" -> {
                logVarValues = uniform(random, DIMS, -4, 0);
                hostLogVar = new Gaussian.LogVariance.PerDimension(logVarValues);
                gradLogVar = new float[DIMS];
            }
            case "perRow" -> {
                logVarValues = uniform(random, elements, -4, 0);
                hostLogVar = new Gaussian.LogVariance.PerRow(logVarValues);
                gradLogVar = new float[elements];
            }
            default -> throw new IllegalArgumentException(
                    "logVariance must be fixed, perDimension or perRow, not " + logVariance);
        }
    }

    /** Floats of the log-variance and of its gradient: 0, D or B x D. */
    private long logVarianceFloats() {
        return logVarValues == null ? 0 : logVarValues.length;
    }

    private long workspaceFloats() {
        return logVariance.equals("perDimension") ? GaussianKernels.workspaceFloats(likelihoodShape) : 0;
    }

    @Override
    long deviceBytesPerCopy() {
        return bytesPerCall() + workspaceFloats() * Float.BYTES;
    }

    @Override
    long bytesPerCall() {
        long elements = (long) batch * DIMS;
        return (3 * elements + batch + 2 * logVarianceFloats()) * Float.BYTES;
    }

    @Override
    void createDeviceProblem(GpuSession gpu, int copies) {
        CudaContext context = gpu.context();
        kernels = new GaussianKernels(context);
        unfused = new UnfusedElbo(context, latentShape, likelihoodShape);
        meanOnDevice = Slots.of(context, copies, mean);
        xOnDevice = Slots.of(context, copies, x);
        logProbOnDevice = Slots.floats(context, copies, batch);
        gradMeanOnDevice = Slots.floats(context, copies, mean.length);
        logVarOnDevice = new GaussianKernels.LogVariance[copies];
        if (logVarValues == null) {
            Arrays.fill(logVarOnDevice, new GaussianKernels.LogVariance.Fixed(FIXED_LOG_VARIANCE));
        } else {
            Slots values = Slots.of(context, copies, logVarValues);
            for (int i = 0; i < copies; i++) {
                logVarOnDevice[i] = logVariance.equals("perDimension")
                        ? new GaussianKernels.LogVariance.PerDimension(values.get(i))
                        : new GaussianKernels.LogVariance.PerRow(values.get(i));
            }
            gradLogVarOnDevice = Slots.floats(context, copies, logVarValues.length);
        }
        if (workspaceFloats() > 0) {
            workspaceOnDevice = Slots.floats(context, copies, workspaceFloats());
        }
    }

    @Benchmark
    @OperationsPerInvocation(GpuSession.CALLS)
    public void fused(Traffic traffic) {
        timeBatch(traffic, i -> kernels.lossAndGradient(gpu.stream(), likelihoodShape, meanOnDevice.get(i),
                xOnDevice.get(i), logVarOnDevice[i], 1f / batch, logProbOnDevice.get(i), gradMeanOnDevice.get(i),
                slot(gradLogVarOnDevice, i), slot(workspaceOnDevice, i)));
    }

    @Benchmark
    @OperationsPerInvocation(GpuSession.CALLS)
    public void unfused(Traffic traffic) {
        timeBatch(traffic, i -> unfused.gaussianLossAndGradient(gpu.stream(), likelihoodShape, meanOnDevice.get(i),
                xOnDevice.get(i), logVarOnDevice[i], 1f / batch, logProbOnDevice.get(i), gradMeanOnDevice.get(i),
                slot(gradLogVarOnDevice, i)));
    }

    /** Slot {@code i} of an optional tensor: null when the mode has none. */
    private static DeviceBuffer slot(Slots slots, int i) {
        return slots == null ? null : slots.get(i);
    }

    @Benchmark
    public void cpu(Traffic traffic) {
        Gaussian.logProbAndGrad(likelihoodShape, mean, x, hostLogVar, 1f / batch, logProb, gradMean, gradLogVar);
        traffic.addCpuCall(bytesPerCall());
    }
}
