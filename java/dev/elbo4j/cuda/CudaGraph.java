package dev.elbo4j.cuda;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * An instantiated CUDA graph (a CUgraphExec) made by {@link CudaContext#capture}: the captured work, replayed
 * as one launch. The graph remembers the buffers, modules and cuBLAS handles the captured calls used; a launch
 * holds them in use while it enqueues the replay and throws {@link IllegalStateException} when one of them has
 * been closed (its memory may be gone). {@link #close()} destroys the executable graph.
 */
public final class CudaGraph extends ContextResource {
    private final DriverApi driver;
    private final long handle;
    /** What the captured work used, each once. */
    private final List<ContextResource> used;

    CudaGraph(CudaContext context, long handle, List<ContextResource> used) {
        super(context);
        this.driver = context.driver();
        this.handle = handle;
        Set<ContextResource> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
        distinct.addAll(used);
        this.used = List.copyOf(distinct);
    }

    /**
     * Enqueues one replay of the captured work on {@code stream} (null: the legacy default stream).
     *
     * @throws IllegalStateException when the graph, the stream or anything the captured work used is closed
     */
    public void launch(CudaStream stream) {
        checkOpen();
        long streamHandle = context.enterStream(stream);
        List<ContextResource> held = new ArrayList<>(used.size() + 1);
        try {
            enter();
            held.add(this);
            for (ContextResource resource : used) {
                try {
                    resource.enter();
                } catch (IllegalStateException closed) {
                    throw new IllegalStateException("cannot launch " + this + ": the captured work used " + resource
                            + ", which has been closed since", closed);
                }
                held.add(resource);
            }
            context.ensureCurrent();
            driver.check(driver.graphLaunch(handle, streamHandle), "cuGraphLaunch");
        } finally {
            held.forEach(ContextResource::exit);
            CudaContext.exitStream(stream);
        }
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

    @Override
    boolean keptByGraphs() {
        return false;
    }
}
