package dev.elbo4j.bench;

import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;
import dev.elbo4j.shape.SampleShape;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * What the kernel benchmarks share. Each subclass {@code <Operation>Bench} measures one fused kernel with three
 * methods that {@link Report} pairs by name: {@code fused} (the kernel), {@code unfused} (the same math as
 * the sequence of one-purpose kernels in {@code UnfusedElbo}) and {@code cpu} (the CPU reference), at
 * D = {@value #DIMS}, L = {@value #LATENT}, K = 1 unless the subclass adds a samples parameter, and B from
 * {@link #batch}.
 *
 * <p>A GPU method enqueues {@link GpuSession#CALLS} calls between two CUDA events (see {@link GpuSession}),
 * cycling through {@link #copies()} independent copies of the problem whose footprint exceeds the L2 cache
 * ({@link #rotateMiB}). A CPU trial allocates nothing on the GPU and needs no CUDA backend.
 *
 * <p>Not final, and the subclasses neither: JMH generates subclasses of its state classes.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public abstract class KernelBench {
    /** D: 28 x 28 images. */
    static final int DIMS = 784;
    /** L. */
    static final int LATENT = 32;
    /** The encoder's output row: [mu | logvar], read in place. */
    static final int ROW_STRIDE = 2 * LATENT;
    /** Philox key and step of the noise the kernels draw; any values do. */
    static final long SEED = 0x5EED_E1B0_4A11L;
    static final int OFFSET = 7;

    /** B, the rows of a batch. */
    @Param({"128", "4096"})
    public int batch;

    /** The least footprint of the cycled problem copies, in MiB ({@link GpuSession#copiesFor}); 0: one copy. */
    @Param("256")
    public int rotateMiB;

    /** The trial's shapes, made once from {@link #batch} and {@link #samples()} before the problem is created. */
    LatentShape latentShape;
    LikelihoodShape likelihoodShape;
    SampleShape sampleShape;

    /** The trial's GPU; null in a CPU trial. */
    GpuSession gpu;
    private int copies;
    private int nextCopy;

    /** Makes the host inputs, and in a GPU trial the device copies of the problem. */
    @Setup(Level.Trial)
    public void setUp(BenchmarkParams run) {
        latentShape = LatentShape.of(batch, LATENT).withSamples(samples()).withRowStride(ROW_STRIDE);
        likelihoodShape = LikelihoodShape.of(batch, DIMS).withSamples(samples());
        sampleShape = likelihoodShape.sampleShape();
        createHostProblem(new SplittableRandom(SEED));
        if (!run.getBenchmark().endsWith(".cpu")) {
            gpu = GpuSession.open();
            copies = GpuSession.copiesFor(deviceBytesPerCopy(), rotateMiB);
            createDeviceProblem(gpu, copies);
            gpu.context().synchronize();
        }
    }

    @Setup(Level.Iteration)
    public void makeCurrent() {
        if (gpu != null) {
            gpu.makeCurrent();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (gpu != null) {
            gpu.close();
            gpu = null;
        }
    }

    /** K: 1 unless the subclass has a samples parameter. */
    int samples() {
        return 1;
    }

    /** Fills the host arrays the CPU reference reads (and the device copies are uploaded from). */
    abstract void createHostProblem(SplittableRandom random);

    /** Device bytes of one copy of the problem: inputs, outputs and anything else per copy. */
    abstract long deviceBytesPerCopy();

    /** Allocates {@code copies} copies of the problem on the device and uploads the host inputs into each. */
    abstract void createDeviceProblem(GpuSession gpu, int copies);

    /** The bytes one call must move: each input read once, each output written once. */
    abstract long bytesPerCall();

    /** Number of problem copies the GPU methods cycle through. */
    final int copies() {
        return copies;
    }

    /**
     * Times one batch of {@link GpuSession#CALLS} calls, {@code call} receiving the index of the problem copy
     * to use, and counts it in {@code traffic}.
     */
    final void timeBatch(Traffic traffic, IntConsumer call) {
        gpu.begin();
        for (int i = 0; i < GpuSession.CALLS; i++) {
            call.accept(nextCopy);
            nextCopy = nextCopy + 1 == copies ? 0 : nextCopy + 1;
        }
        traffic.addGpuBatch(GpuSession.CALLS, bytesPerCall(), gpu.endMillis());
    }

    // ---- random inputs: fixed seed, so every run measures the same data ----------------------------------------

    static float[] uniform(SplittableRandom random, int count, double low, double high) {
        float[] values = new float[count];
        for (int i = 0; i < count; i++) {
            values[i] = (float) random.nextDouble(low, high);
        }
        return values;
    }

    static byte[] pixels(SplittableRandom random, int count) {
        byte[] values = new byte[count];
        random.nextBytes(values);
        return values;
    }
}
