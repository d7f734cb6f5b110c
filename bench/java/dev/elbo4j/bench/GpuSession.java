package dev.elbo4j.bench;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaEvent;
import dev.elbo4j.cuda.CudaRuntime;
import dev.elbo4j.cuda.CudaStream;

/**
 * One benchmark trial's GPU: a context on device 0, the stream the benchmark launches on, and the two CUDA
 * events that time a batch of {@link #CALLS} back-to-back calls.
 *
 * <p>Why batches: a single launch returns before the kernel runs, and synchronizing after every launch would
 * time the launch latency and the synchronization's round trip as much as the kernel. So each JMH invocation
 * enqueues {@link #CALLS} calls between a start and a stop event and waits once: the events give the GPU time
 * per call (JMH secondary result {@code gpuNanos / calls}), and JMH's wall time per call
 * ({@code @OperationsPerInvocation(CALLS)}) adds what the host spends launching, amortizing one synchronization.
 * Where launches cost more host time than the kernel takes, the GPU idles between calls and both times show
 * the launch rate, not the kernel: that is the honest cost of the call at that size.
 */
final class GpuSession implements AutoCloseable {
    /** Calls per timed batch; a constant because {@code @OperationsPerInvocation} needs one. */
    static final int CALLS = 32;

    private final CudaContext context;
    private final CudaStream stream;
    private final CudaEvent start;
    private final CudaEvent stop;

    private GpuSession(CudaContext context) {
        this.context = context;
        this.stream = context.createStream();
        this.start = context.createEvent();
        this.stop = context.createEvent();
    }

    /** Opens device 0 (the backend {@code elbo4j.cuda.library} selects) and makes its context current. */
    static GpuSession open() {
        CudaContext context = CudaRuntime.get().openContext(0);
        try {
            return new GpuSession(context);
        } catch (RuntimeException e) {
            context.close();
            throw e;
        }
    }

    CudaContext context() {
        return context;
    }

    /** The stream every call of the benchmark is enqueued on (and the events are recorded on). */
    CudaStream stream() {
        return stream;
    }

    /** Makes the context current on the calling thread: JMH may run setup and measurement on other threads. */
    void makeCurrent() {
        context.makeCurrent();
    }

    /** Records the start event: call before enqueuing a batch. */
    void begin() {
        start.record(stream);
    }

    /** Records the stop event after the batch, waits for it, and returns the GPU milliseconds between the two. */
    float endMillis() {
        stop.record(stream);
        stop.synchronize();
        return stop.elapsedMillisSince(start);
    }

    /**
     * How many independent copies of a problem to cycle through so that together they occupy at least
     * {@code rotateMiB} MiB: with a footprint beyond the L2 cache (50 MiB on an H100), every call reads its
     * inputs from device memory, as a kernel does in a training step whose working set exceeds L2, and as
     * the 256 MiB device-to-device copy it is compared with does. {@code rotateMiB = 0} gives one copy.
     */
    static int copiesFor(long bytesPerCopy, int rotateMiB) {
        long target = (long) rotateMiB << 20;
        return (int) Math.max(1, (target + bytesPerCopy - 1) / bytesPerCopy);
    }

    /** Waits for the device and closes the context, which frees every buffer, stream and event it owns. */
    @Override
    public void close() {
        context.close();
    }
}
