package dev.elbo4j.bench;

import dev.elbo4j.cuda.DeviceBuffer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The device's copy bandwidth, the yardstick for every kernel's achieved bandwidth ({@link Report} divides by
 * it): {@code cuMemcpyDtoDAsync} of one buffer into another, far larger than the L2 cache, timed with CUDA
 * events like the kernels. Bytes moved per copy = 2 x size (every byte read once and written once), the
 * same accounting as the kernels'.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class DeviceCopyBench {
    /** Bytes per buffer: 256 MiB, five times an H100's L2, so the copy streams from and to device memory. */
    @Param("268435456")
    public long bytes;

    private GpuSession gpu;
    private DeviceBuffer source;
    private DeviceBuffer destination;

    @Setup(Level.Trial)
    public void setUp() {
        gpu = GpuSession.open();
        source = gpu.context().allocate(bytes);
        destination = gpu.context().allocate(bytes);
        source.fillFloats(0.5f);
        destination.fillFloats(Float.NaN);
    }

    @Setup(Level.Iteration)
    public void makeCurrent() {
        gpu.makeCurrent();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (gpu != null) {
            gpu.close();
        }
    }

    @Benchmark
    @OperationsPerInvocation(GpuSession.CALLS)
    public void copy(Traffic traffic) {
        gpu.begin();
        for (int i = 0; i < GpuSession.CALLS; i++) {
            destination.copyFromAsync(source, gpu.stream());
        }
        traffic.addGpuBatch(GpuSession.CALLS, 2 * bytes, gpu.endMillis());
    }
}
