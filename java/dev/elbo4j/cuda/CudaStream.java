package dev.elbo4j.cuda;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;

/**
 * A CUDA stream: work enqueued on it runs in order. Created by {@link CudaContext#createStream()}; it
 * synchronizes with the legacy default stream. Methods that take a stream accept {@code null} for the legacy
 * default stream.
 *
 * <p>{@link #close()} waits for the stream's work (completing pending downloads), frees its staging memory and
 * destroys it; everything is released even when the wait fails, whose error is then thrown. A stream made by
 * {@link CudaContext#wrapStream} belongs to someone else: closing it waits and frees the staging memory but never
 * destroys the stream.
 */
public final class CudaStream extends ContextResource {
    private final DriverApi driver;
    private final long handle;
    /** Whether closing destroys the driver's stream: false for a wrapped handle. */
    private final boolean owning;
    private final HostStaging staging;
    /** The last kernel launched on this stream; named when a synchronization fails. */
    private volatile CudaFunction lastLaunch;

    CudaStream(CudaContext context, long handle, boolean owning) {
        super(context);
        this.driver = context.driver();
        this.handle = handle;
        this.owning = owning;
        this.staging = new HostStaging(driver);
    }

    /**
     * Waits for all work enqueued on this stream, then fills the Java arrays of pending asynchronous
     * downloads. A kernel fault surfaces here; the exception names the last kernel launched on this stream.
     */
    public void synchronize() {
        enter();
        try {
            context.ensureCurrent();
            int result = driver.streamSynchronize(handle);
            if (result != DriverApi.CUDA_SUCCESS) {
                staging.abandoned();
                throw driver.error(result, "cuStreamSynchronize",
                        CudaContext.lastLaunchDetail(lastLaunch, "on this stream"));
            }
            staging.completed();
        } finally {
            exit();
        }
    }

    /** Whether work on this stream is being captured into a graph ({@link CudaContext#capture}). */
    public boolean isCapturing() {
        enter();
        try {
            context.ensureCurrent();
            MemorySegment status = DriverApi.threadSlot();
            driver.check(driver.streamIsCapturing(handle, status), "cuStreamIsCapturing");
            return status.get(JAVA_INT, 0) != DriverApi.CU_STREAM_CAPTURE_STATUS_NONE;
        } finally {
            exit();
        }
    }

    /** The driver's CUstream handle (for interoperation); throws {@link IllegalStateException} when closed. */
    public long handle() {
        checkOpen();
        return handle;
    }

    /** Whether closing destroys the driver's stream: false for a {@linkplain CudaContext#wrapStream wrapped} one. */
    public boolean isOwning() {
        return owning;
    }

    /** The handle without the open check, for a caller that holds the stream in use. */
    long rawHandle() {
        return handle;
    }

    /** The context that owns this stream. */
    public CudaContext context() {
        return context;
    }

    /**
     * Waits for the stream's work (completing pending downloads), frees its staging memory and destroys it.
     * Everything is released even when the wait fails, whose error is then thrown.
     */
    @Override
    void release() {
        int synchronizedResult = driver.streamSynchronize(handle);
        if (synchronizedResult == DriverApi.CUDA_SUCCESS) {
            staging.completed();
        }
        CudaException stagingFailure = staging.release();
        int destroyed = owning ? driver.streamDestroy(handle) : DriverApi.CUDA_SUCCESS;
        driver.check(synchronizedResult, "cuStreamSynchronize",
                "while closing the stream; " + CudaContext.lastLaunchDetail(lastLaunch, "on this stream"));
        if (stagingFailure != null) {
            throw stagingFailure;
        }
        driver.check(destroyed, "cuStreamDestroy_v2");
    }

    @Override
    String identity() {
        return hex(handle) + (owning ? "" : ", wrapped");
    }

    @Override
    boolean keptByGraphs() {
        return false;
    }

    HostStaging staging() {
        return staging;
    }

    void launched(CudaFunction function) {
        lastLaunch = function;
    }
}
