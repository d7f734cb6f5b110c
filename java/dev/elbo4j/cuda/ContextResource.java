package dev.elbo4j.cuda;

/**
 * The lifecycle shared by everything a {@link CudaContext} creates and owns (buffers, streams, events,
 * modules, cuBLAS handles, graphs): closed once, idempotently and from any thread; unregistered from the
 * context; refused with {@link IllegalStateException} after close, before any native call.
 */
abstract class ContextResource implements AutoCloseable {
    final CudaContext context;
    private volatile boolean closed;

    ContextResource(CudaContext context) {
        this.context = context;
    }

    /** Whether {@link #close()} has been called (or the owning context closed). */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Releases what this object holds in the driver (each class's comment says what that is). Idempotent:
     * only the first call reaches the driver, and its failure is thrown from that call.
     */
    @Override
    public final void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        if (!registeredWithContext()) {
            return;
        }
        context.disown(this);
        context.ensureCurrent();
        release();
    }

    /** Frees the driver resource; called once, by the first {@link #close()}, with the context current. */
    abstract void release();

    /**
     * Whether this object was registered with its context ({@link CudaContext#own}) and holds a driver
     * resource; when not, closing it only makes it unusable.
     */
    boolean registeredWithContext() {
        return true;
    }

    /** Throws {@link IllegalStateException} "... is closed" after {@link #close()}; subclasses add their own. */
    void checkOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    /** What {@link #toString()} names inside the parentheses: a handle in hex or a description. */
    abstract String identity();

    /** {@link #toString()}'s prefix: the class's simple name. */
    String kind() {
        return getClass().getSimpleName();
    }

    @Override
    public final String toString() {
        return kind() + "(" + identity() + (isClosed() ? ", closed)" : ")");
    }

    /** {@code 0x} and the handle in hex, the identity of objects known by their driver handle. */
    static String hex(long handle) {
        return "0x" + Long.toHexString(handle);
    }
}
