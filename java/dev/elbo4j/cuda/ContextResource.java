package dev.elbo4j.cuda;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The lifecycle shared by everything a {@link CudaContext} creates and owns (buffers, streams, events,
 * modules, cuBLAS handles, graphs): closed once, idempotently and from any thread; unregistered from the
 * context; refused with {@link IllegalStateException} after close, before any native call.
 *
 * <h2>Close and use are safe against each other</h2>
 * Every native call that uses a resource holds it in use from its open-check to the return of the call that
 * enqueues the work ({@link #enter()} ... {@link #exit()}): a launch, a copy, a fill, a cuBLAS call. {@link #close()}
 * first marks the resource closed, so that every later use throws {@link IllegalStateException}, then waits for
 * the uses already under way to return, and only then releases the driver resource. So a resource is never freed
 * between a call's check and its enqueue, whichever threads race. What the device still has queued is the other
 * half of the rule, kept by the resources that hold device memory ({@link DeviceBuffer}: its memory is freed only
 * after the context's queued work has finished).
 */
abstract class ContextResource implements AutoCloseable {
    /** The closed flag; the lower bits count the uses under way. */
    private static final int CLOSED = 1 << 30;
    private static final int USES = CLOSED - 1;
    /** How long {@link #close()} parks between looks at the uses under way (they last microseconds). */
    private static final long CLOSE_POLL_NANOS = 20_000;

    final CudaContext context;
    private final AtomicInteger state = new AtomicInteger();

    ContextResource(CudaContext context) {
        this.context = context;
    }

    /** Whether {@link #close()} has been called (or the owning context closed). */
    public boolean isClosed() {
        return (state.get() & CLOSED) != 0;
    }

    /**
     * Releases what this object holds in the driver (each class's comment says what that is), after every use
     * under way on other threads has returned. Idempotent: only the first call reaches the driver, and its
     * failure is thrown from that call.
     */
    @Override
    public final void close() {
        int before = state.getAndUpdate(value -> value | CLOSED);
        if ((before & CLOSED) != 0) {
            return;
        }
        boolean interrupted = false;
        while ((state.get() & USES) != 0) {
            LockSupport.parkNanos(this, CLOSE_POLL_NANOS);
            interrupted |= Thread.interrupted();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (!registeredWithContext()) {
            return;
        }
        context.disown(this);
        context.ensureCurrent();
        release();
    }

    /**
     * Marks this object in use by the calling thread until {@link #exit()}; {@link #close()} waits for it.
     *
     * @throws IllegalStateException when it is closed (nothing is then held)
     */
    void enter() {
        while (true) {
            int value = state.get();
            if ((value & CLOSED) != 0) {
                throw new IllegalStateException(closedMessage());
            }
            if ((value & USES) == USES) {
                throw new IllegalStateException(this + " has more than " + USES + " uses under way");
            }
            if (state.compareAndSet(value, value + 1)) {
                if (keptByGraphs()) {
                    CudaContext.recordUse(this);
                }
                return;
            }
        }
    }

    /**
     * Whether a graph captured while this object was used must keep it open to be launched (true for what a
     * captured kernel or cuBLAS call touches: memory, modules, cuBLAS handles; false for streams and events).
     */
    boolean keptByGraphs() {
        return true;
    }

    /** Ends a use begun by {@link #enter()}. */
    void exit() {
        state.decrementAndGet();
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
        if (isClosed()) {
            throw new IllegalStateException(closedMessage());
        }
    }

    /** The message of a use after close. */
    String closedMessage() {
        return this + " is closed";
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
