package dev.elbo4j.cuda;

/**
 * An instantiated CUDA graph (a CUgraphExec) made by {@link CudaContext#capture}: the captured work, replayed
 * as one launch. The buffers and modules the captured work used must stay open while the graph is launched.
 * {@link #close()} destroys the executable graph.
 */
public final class CudaGraph extends ContextResource {
    private final DriverApi driver;
    private final long handle;

    CudaGraph(CudaContext context, long handle) {
        super(context);
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

    /** Destroys the executable graph. */
    @Override
    void release() {
        driver.check(driver.graphExecDestroy(handle), "cuGraphExecDestroy");
    }

    @Override
    String identity() {
        return hex(handle);
    }
}
