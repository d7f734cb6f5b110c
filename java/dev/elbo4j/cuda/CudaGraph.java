package dev.elbo4j.cuda;

/**
 * An instantiated CUDA graph (a CUgraphExec) made by {@link CudaContext#capture}: the captured work, replayed
 * as one launch. The buffers and modules the captured work used must stay open while the graph is launched.
 */
public final class CudaGraph implements AutoCloseable {
    private final CudaContext context;
    private final DriverApi driver;
    private final long handle;
    private volatile boolean closed;

    CudaGraph(CudaContext context, long handle) {
        this.context = context;
        this.driver = context.driver();
        this.handle = handle;
    }

    /** Enqueues one replay of the captured work on {@code stream} (null: the legacy default stream). */
    public void launch(CudaStream stream) {
        checkOpen();
        long streamHandle = context.streamHandle(stream);
        context.ensureCurrent();
        driver.check(driver.graphLaunch(handle, streamHandle), "cuGraphLaunch");
    }

    /** Whether {@link #close()} has been called (or the owning context closed). */
    public boolean isClosed() {
        return closed;
    }

    /** Destroys the executable graph. Idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        context.disown(this);
        context.ensureCurrent();
        driver.check(driver.graphExecDestroy(handle), "cuGraphExecDestroy");
    }

    @Override
    public String toString() {
        return "CudaGraph(0x" + Long.toHexString(handle) + (closed ? ", closed)" : ")");
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }
}
