package dev.elbo4j.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.MemorySegment;

/**
 * A CUDA event, for ordering and timing work on streams. Created by {@link CudaContext#createEvent()};
 * {@link #close()} destroys it.
 */
public final class CudaEvent extends ContextResource {
    private final DriverApi driver;
    private final long handle;

    CudaEvent(CudaContext context, long handle) {
        super(context);
        this.driver = context.driver();
        this.handle = handle;
    }

    /** Records the event after the work enqueued so far on {@code stream} (null: the legacy default stream). */
    public void record(CudaStream stream) {
        checkOpen();
        long streamHandle = context.enterStream(stream);
        try {
            enter();
            try {
                context.ensureCurrent();
                driver.check(driver.eventRecord(handle, streamHandle), "cuEventRecord");
            } finally {
                exit();
            }
        } finally {
            CudaContext.exitStream(stream);
        }
    }

    /** Waits until the work before the last {@link #record} has completed. */
    public void synchronize() {
        enter();
        try {
            context.ensureCurrent();
            driver.check(driver.eventSynchronize(handle), "cuEventSynchronize",
                    CudaContext.lastLaunchDetail(context.lastLaunch(), "in this context"));
        } finally {
            exit();
        }
    }

    /**
     * Milliseconds between {@code start} and this event (both recorded; this one completed, e.g. after
     * {@link #synchronize()}). Resolution is about half a microsecond on a GPU.
     *
     * @throws IllegalArgumentException when {@code start} belongs to another context
     * @throws CudaException            CUDA_ERROR_NOT_READY when this event has not completed yet
     */
    public float elapsedMillisSince(CudaEvent start) {
        checkOpen();
        start.checkOpen();
        context.checkSameContext(start.context, "the start event " + start);
        start.enter();
        try {
            enter();
            try {
                context.ensureCurrent();
                MemorySegment milliseconds = DriverApi.threadSlot();
                driver.check(driver.eventElapsedTime(milliseconds, start.handle, handle), "cuEventElapsedTime_v2");
                return milliseconds.get(JAVA_FLOAT, 0);
            } finally {
                exit();
            }
        } finally {
            start.exit();
        }
    }

    /** Destroys the event. */
    @Override
    void release() {
        driver.check(driver.eventDestroy(handle), "cuEventDestroy_v2");
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
