package dev.elbo4j.cuda;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.ToIntFunction;

/**
 * One device's primary context, retained for the life of this object, and the owner of everything created
 * from it: device buffers, streams, events, modules, cuBLAS handles and graphs.
 *
 * <h2>Ownership</h2>
 * Every object created here is registered with the context. Closing one releases it at once; closing the
 * context first waits for the device, then closes whatever is still open (graphs, cuBLAS handles, modules,
 * events, streams, and last the device buffers, whose memory is freed), then releases the primary context.
 * Views ({@link DeviceBuffer#slice}) are never freed themselves; they become unusable with their buffer.
 * Use after close throws {@link IllegalStateException} and never reaches the driver. There is no Cleaner or
 * finalizer: the context holds every object it created until that object or the context is closed, so a
 * forgotten buffer is freed, deterministically, when its context closes (and by the driver at process exit).
 *
 * <h2>Threads</h2>
 * A context and its objects may be used from any thread: every operation first makes this context current on
 * the calling thread if it is not (one {@code cuCtxGetCurrent} call). Work on one stream is ordered; work on
 * different streams is not, except that streams created here synchronize with the legacy default stream
 * (the one a {@code null} stream argument means), so synchronous copies see the results of kernels launched
 * earlier on any stream of the context. Closing an object while another thread uses it is safe: the close
 * waits for calls under way and later calls throw {@link IllegalStateException} (see {@link DeviceBuffer},
 * "Closing").
 *
 * <h2>One context per operation</h2>
 * Every operation takes only objects of one context: a kernel launch, a copy between buffers, a cuBLAS call or a
 * graph launch given a buffer, stream or handle of another {@code CudaContext} throws
 * {@link IllegalArgumentException} naming both contexts (by their ids, {@code CudaContext#2(device 0)}), even
 * when both are on the same device. Data moves between contexts through the host.
 */
public final class CudaContext implements AutoCloseable {
    /** The jar resource that holds the compiled kernels (built from kernels/*.cu by native/build-kernels.sh). */
    static final String KERNELS_RESOURCE = "/dev/elbo4j/kernels/elbo4j.fatbin";

    /** Owned objects close in this order: nothing closes before something that may still use it. */
    private static final List<Class<? extends ContextResource>> CLOSE_ORDER = List.of(
            CudaGraph.class, Cublas.class, CudaModule.class, CudaEvent.class, CudaStream.class, DeviceBuffer.class);

    private final CudaRuntime runtime;
    private final DriverApi driver;
    private final int ordinal;
    private final int device;
    private final long handle;
    private static final AtomicInteger IDS = new AtomicInteger();
    /**
     * Whether some thread is capturing a graph ({@link #capture}): only then does {@link #recordUse} look up the
     * calling thread's recording, so an ordinary launch pays one volatile read.
     */
    private static final AtomicInteger CAPTURES = new AtomicInteger();
    /** What the calling thread's capture has used so far: the graph keeps these in use while it is launched. */
    private static final ThreadLocal<List<ContextResource>> CAPTURED = new ThreadLocal<>();

    private final int id = IDS.incrementAndGet();
    private final Set<ContextResource> owned = ConcurrentHashMap.newKeySet();
    private final HostStaging defaultStreamStaging;
    private volatile boolean closed;
    private boolean closing;
    private CudaModule kernels;
    /** The last kernel launched in this context on any stream; named when a synchronization fails. */
    private volatile CudaFunction lastLaunch;

    CudaContext(CudaRuntime runtime, int ordinal, int device, long handle) {
        this.runtime = runtime;
        this.driver = runtime.driver();
        this.ordinal = ordinal;
        this.device = device;
        this.handle = handle;
        this.defaultStreamStaging = new HostStaging(driver);
    }

    /** A number that tells this context from every other one opened in this process (its {@code #id}). */
    public int id() {
        return id;
    }

    /** The ordinal of this context's device. */
    public int deviceOrdinal() {
        return ordinal;
    }

    /** The runtime this context came from. */
    public CudaRuntime runtime() {
        return runtime;
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return closed;
    }

    /** Makes this context current on the calling thread (every operation also does this when needed). */
    public void makeCurrent() {
        checkOpen();
        driver.check(driver.ctxSetCurrent(handle), "cuCtxSetCurrent", describe());
    }

    /**
     * Waits for all work in the context, then completes the pending asynchronous copies into Java arrays of
     * every stream (see {@link DeviceBuffer#copyToAsync(float[], CudaStream)}). A kernel fault surfaces here;
     * the exception names the last kernel launched in the context.
     */
    public void synchronize() {
        ensureCurrent();
        int result = driver.ctxSynchronize();
        List<HostStaging> stagings = stagings();
        if (result != DriverApi.CUDA_SUCCESS) {
            stagings.forEach(HostStaging::abandoned);
            throw driver.error(result, "cuCtxSynchronize", lastLaunchDetail(lastLaunch, "in this context"));
        }
        stagings.forEach(HostStaging::completed);
    }

    /** Free device memory in bytes, as the driver reports it (the whole device, not only this process). */
    public long freeMemoryBytes() {
        ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment free = arena.allocate(JAVA_LONG);
            MemorySegment total = arena.allocate(JAVA_LONG);
            driver.check(driver.memGetInfo(free, total), "cuMemGetInfo_v2");
            return free.get(JAVA_LONG, 0);
        }
    }

    /**
     * Allocates device memory (contents undefined; see {@link DeviceBuffer#fillBytes}).
     *
     * @param bytes size in bytes, positive
     * @throws IllegalArgumentException when bytes is not positive
     * @throws CudaException            when the driver cannot allocate (e.g. CUDA_ERROR_OUT_OF_MEMORY)
     */
    public DeviceBuffer allocate(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("device allocation size must be positive, got " + bytes + " bytes");
        }
        long address = create(pointer -> driver.memAlloc(pointer, bytes), "cuMemAlloc_v2",
                "allocating " + bytes + " bytes");
        return own(new DeviceBuffer(this, address, bytes));
    }

    /**
     * Allocates room for {@code count} floats (4 bytes each).
     *
     * @throws IllegalArgumentException when count is not positive or the byte size overflows
     */
    public DeviceBuffer allocateFloats(long count) {
        if (count <= 0 || count > Long.MAX_VALUE / Float.BYTES) {
            throw new IllegalArgumentException("float count must be positive and fit in 63-bit bytes, got " + count);
        }
        return allocate(count * Float.BYTES);
    }

    /** Creates a stream that synchronizes with the legacy default stream (CU_STREAM_DEFAULT). */
    public CudaStream createStream() {
        long stream = create(out -> driver.streamCreate(out, DriverApi.CU_STREAM_DEFAULT), "cuStreamCreate", "");
        return own(new CudaStream(this, stream, true));
    }

    /**
     * A non-owning view of device memory that another library allocated in this context (JCuda, bytedeco's CUDA
     * presets, PyTorch through DLPack, ...): a {@link DeviceBuffer} that every launcher, copy and cuBLAS call
     * accepts like its own, and that elbo4j never frees. Closing it (or this context) only makes it unusable; the
     * memory's owner frees it, after the last work that uses it has finished. For example, with a PyTorch tensor's
     * {@code data_ptr()} and a CUDA stream's {@code cuda_stream} handed over to Java:
     * <pre>{@code
     * DeviceBuffer logits = gpu.wrap(logitsPointer, (long) batch * dims * Float.BYTES);
     * CudaStream torchStream = gpu.wrapStream(streamHandle);
     * bernoulli.lossAndGradient(torchStream, LikelihoodShape.of(batch, dims), logits, x, TargetFormat.FLOAT32, null,
     *         1f / batch, logProb, grad);
     * }</pre>
     * The caller vouches that {@code [address, address + byteSize)} is device memory of this context's device (the
     * driver API has no cheap check for it) and keeps it allocated until the view is closed.
     *
     * @param address  the device address (a CUdeviceptr), not 0
     * @param byteSize the bytes of the memory that elbo4j may use from {@code address}, positive
     * @throws IllegalArgumentException when the address is 0, the size is not positive or the range wraps
     */
    public DeviceBuffer wrap(long address, long byteSize) {
        checkOpen();
        if (address == 0 || byteSize <= 0 || Long.compareUnsigned(address + byteSize - 1, address) < 0) {
            throw new IllegalArgumentException("cannot wrap " + byteSize + " bytes at device address 0x"
                    + Long.toHexString(address) + ": the address must not be 0 and the size must be positive");
        }
        return DeviceBuffer.wrapped(this, address, byteSize);
    }

    /**
     * A non-owning view of a CUDA stream that another library created in this context: every method that takes a
     * {@link CudaStream} accepts it, and work elbo4j enqueues on it is ordered with the owner's work. Closing it
     * waits for the stream's work and frees elbo4j's staging memory for it, but never destroys the stream; the
     * owner destroys it after closing the view. See {@link #wrap(long, long)} for an example.
     *
     * @param handle the CUstream handle, not 0 (the legacy default stream is {@code null} in elbo4j's methods)
     * @throws IllegalArgumentException when the handle is 0
     */
    public CudaStream wrapStream(long handle) {
        checkOpen();
        if (handle == 0) {
            throw new IllegalArgumentException("cannot wrap stream handle 0: the legacy default stream is passed as"
                    + " null");
        }
        return own(new CudaStream(this, handle, false));
    }

    /** Creates an event that records timing (CU_EVENT_DEFAULT). */
    public CudaEvent createEvent() {
        long event = create(out -> driver.eventCreate(out, DriverApi.CU_EVENT_DEFAULT), "cuEventCreate", "");
        return own(new CudaEvent(this, event));
    }

    /**
     * Makes this context current and runs a driver call that writes a new handle (or device address) to its
     * 8-byte out-parameter; returns what it wrote.
     */
    private long create(ToIntFunction<MemorySegment> call, String symbol, String detail) {
        ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            driver.check(call.applyAsInt(out), symbol, detail);
            return out.get(JAVA_LONG, 0);
        }
    }

    /**
     * Loads a module from an image: PTX text, a cubin or a fatbin. A failure throws {@link CudaException} with
     * the JIT's error log in the message.
     *
     * @throws IllegalArgumentException when the image is empty
     */
    public CudaModule loadModule(byte[] image) {
        Objects.requireNonNull(image, "image");
        return loadModule(image, "module from a " + image.length + "-byte image");
    }

    /**
     * The kernels compiled into this jar (resource {@value #KERNELS_RESOURCE}), loaded on first use and cached
     * until the context closes (closing the returned module makes the next call load it again).
     *
     * @throws CudaException "this jar was built without kernels" when the resource is absent
     */
    public synchronized CudaModule kernels() {
        if (kernels == null || kernels.isClosed()) {
            kernels = loadModuleFromResource(KERNELS_RESOURCE);
        }
        return kernels;
    }

    /** Loads a module from a class-path resource (package-private so tests can name a missing one). */
    CudaModule loadModuleFromResource(String resourceName) {
        checkOpen();
        byte[] image;
        try (InputStream in = CudaContext.class.getResourceAsStream(resourceName)) {
            if (in == null) {
                throw new CudaException("kernels()", "this jar was built without kernels (nvcc was not found at build "
                        + "time): resource " + resourceName + " is not on the class path; rebuild with nvcc on the PATH");
            }
            image = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("reading kernel resource " + resourceName, e);
        }
        return loadModule(image, "jar resource " + resourceName);
    }

    private CudaModule loadModule(byte[] image, String description) {
        if (image.length == 0) {
            throw new IllegalArgumentException("cannot load a module from an empty image (" + description + ")");
        }
        ensureCurrent();
        return own(CudaModule.load(this, image, description));
    }

    /**
     * Creates a cuBLAS handle whose work goes to {@code stream} (null: the legacy default stream). cuBLAS is
     * loaded on the first call.
     *
     * @throws CudaUnavailableException naming the places tried when no cuBLAS library can be loaded
     */
    public Cublas createCublas(CudaStream stream) {
        long streamHandle = streamHandle(stream);
        CublasApi api = runtime.cublas();
        ensureCurrent();
        return own(Cublas.create(this, api, stream, streamHandle));
    }

    /**
     * Records the device work that {@code work} enqueues on {@code stream} into a CUDA graph, without running
     * it, and instantiates it; {@link CudaGraph#launch} replays it. Kernel arguments are captured by value: the
     * graph remembers the buffers, modules and cuBLAS handles the captured calls used, and a launch after one of
     * them was closed throws {@link IllegalStateException} instead of replaying on freed memory. During capture the calling thread may not
     * synchronize, allocate or make synchronous copies (the driver refuses: CUDA_ERROR_STREAM_CAPTURE_*), nor
     * enqueue asynchronous copies between Java arrays and the device on the capturing stream
     * ({@link IllegalStateException}, see {@link DeviceBuffer}).
     *
     * @param stream a stream created by this context (the legacy default stream cannot be captured)
     * @param work   enqueues launches, device copies and fills on {@code stream}
     * @throws NullPointerException     when {@code stream} is null (the legacy default stream)
     * @throws IllegalArgumentException when the stream belongs to another context
     * @throws CudaException            when the driver refuses the capture; an exception thrown by {@code work}
     *                                  ends the capture and propagates
     */
    public CudaGraph capture(CudaStream stream, Runnable work) {
        Objects.requireNonNull(stream, "stream: the legacy default stream cannot be captured; create a stream");
        Objects.requireNonNull(work, "work");
        long streamHandle = streamHandle(stream);
        ensureCurrent();
        if (CAPTURED.get() != null) {
            throw new IllegalStateException("this thread is already capturing a graph: captures do not nest");
        }
        driver.check(driver.streamBeginCapture(streamHandle, DriverApi.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                "cuStreamBeginCapture_v2");
        List<ContextResource> used = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            CAPTURED.set(used);
            CAPTURES.incrementAndGet();
            try {
                work.run();
            } catch (RuntimeException | Error e) {
                // End the capture so that the stream is usable again; the partial graph is discarded.
                try {
                    ensureCurrent();
                    out.set(JAVA_LONG, 0, 0L);
                    int ended = driver.streamEndCapture(streamHandle, out);
                    long partial = out.get(JAVA_LONG, 0);
                    if (ended == DriverApi.CUDA_SUCCESS && partial != 0) {
                        driver.graphDestroy(partial);
                    }
                } catch (RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
                throw e;
            } finally {
                CAPTURES.decrementAndGet();
                CAPTURED.remove();
            }
            ensureCurrent();
            driver.check(driver.streamEndCapture(streamHandle, out), "cuStreamEndCapture",
                    "the captured work made a call that cannot be captured, or used another stream without joining it");
            long graph = out.get(JAVA_LONG, 0);
            int instantiated = driver.graphInstantiate(out, graph, 0);
            long exec = out.get(JAVA_LONG, 0);
            // The executable graph is a snapshot: the captured graph is not needed after instantiation.
            int destroyed = driver.graphDestroy(graph);
            driver.check(instantiated, "cuGraphInstantiateWithFlags");
            if (destroyed != DriverApi.CUDA_SUCCESS) {
                driver.graphExecDestroy(exec);
                driver.check(destroyed, "cuGraphDestroy");
            }
            return own(new CudaGraph(this, exec, used));
        }
    }

    /**
     * Waits for the device, closes everything this context owns that is still open (see the class comment),
     * and releases the primary context. Idempotent. Everything is released even when a step fails; the first
     * failure is then thrown.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed || closing) {
                return;
            }
            closing = true;
        }
        List<RuntimeException> failures = new ArrayList<>();
        try {
            ensureCurrent();
            int result = driver.ctxSynchronize();
            if (result != DriverApi.CUDA_SUCCESS) {
                failures.add(driver.error(result, "cuCtxSynchronize", "while closing " + describe()));
            }
        } catch (RuntimeException e) {
            failures.add(e);
        }
        for (Class<? extends ContextResource> kind : CLOSE_ORDER) {
            for (ContextResource resource : List.copyOf(owned)) {
                if (kind.isInstance(resource)) {
                    try {
                        resource.close();
                    } catch (RuntimeException e) {
                        failures.add(e);
                    }
                }
            }
        }
        try {
            ensureCurrent();
            CudaException stagingFailure = defaultStreamStaging.release();
            if (stagingFailure != null) {
                failures.add(stagingFailure);
            }
        } catch (RuntimeException e) {
            failures.add(e);
        }
        closed = true;
        int released = driver.devicePrimaryCtxRelease(device);
        if (released != DriverApi.CUDA_SUCCESS) {
            failures.add(driver.error(released, "cuDevicePrimaryCtxRelease_v2", describe()));
        }
        if (!failures.isEmpty()) {
            RuntimeException first = failures.getFirst();
            failures.stream().skip(1).forEach(first::addSuppressed);
            throw first;
        }
    }

    @Override
    public String toString() {
        return describe() + (closed ? " (closed)" : "");
    }

    // ---- package-private plumbing for the objects this context owns ------------------------------------

    DriverApi driver() {
        return driver;
    }

    /** Throws {@link IllegalStateException} when closed, else makes this context current on this thread. */
    void ensureCurrent() {
        checkOpen();
        MemorySegment slot = DriverApi.threadSlot();
        driver.check(driver.ctxGetCurrent(slot), "cuCtxGetCurrent");
        if (slot.get(JAVA_LONG, 0) != handle) {
            driver.check(driver.ctxSetCurrent(handle), "cuCtxSetCurrent", describe());
        }
    }

    void checkOpen() {
        if (closed) {
            throw new IllegalStateException(describe() + " is closed");
        }
    }

    /**
     * The driver handle of a stream argument: 0 (the legacy default stream) for null.
     *
     * @throws IllegalArgumentException when the stream belongs to another context
     * @throws IllegalStateException    when the stream is closed
     */
    long streamHandle(CudaStream stream) {
        if (stream == null) {
            return 0L;
        }
        checkSameContext(stream.context(), "the stream " + stream);
        return stream.handle();
    }

    /**
     * Holds {@code stream} in use (see {@link ContextResource#enter()}) and returns its handle; 0 and nothing held
     * for null, the legacy default stream. Release with {@link #exitStream}.
     */
    long enterStream(CudaStream stream) {
        if (stream == null) {
            return 0L;
        }
        checkSameContext(stream.context(), "the stream " + stream);
        stream.enter();
        return stream.rawHandle();
    }

    /** Ends the use begun by {@link #enterStream}. */
    static void exitStream(CudaStream stream) {
        if (stream != null) {
            stream.exit();
        }
    }

    /**
     * The one rule for objects of other contexts: refused, naming both contexts.
     *
     * @param what the object and its role, e.g. "argument 2 (DeviceBuffer(4096 bytes at 0x7f...))"
     */
    void checkSameContext(CudaContext other, String what) {
        if (other != this) {
            throw new IllegalArgumentException(what + " belongs to " + other.describe() + ", not to " + describe()
                    + ": an operation takes objects of one context only");
        }
    }

    /** Adds {@code resource} to the calling thread's capture, if it is capturing (see {@link #capture}). */
    static void recordUse(ContextResource resource) {
        if (CAPTURES.get() != 0) {
            List<ContextResource> used = CAPTURED.get();
            if (used != null) {
                used.add(resource);
            }
        }
    }

    /** Where asynchronous host-array copies on {@code stream} (null: the legacy default stream) are staged. */
    HostStaging staging(CudaStream stream) {
        return stream == null ? defaultStreamStaging : stream.staging();
    }

    void launched(CudaFunction function) {
        lastLaunch = function;
    }

    CudaFunction lastLaunch() {
        return lastLaunch;
    }

    static String lastLaunchDetail(CudaFunction function, String where) {
        return function == null
                ? "no kernel was launched " + where + " through elbo4j"
                : "the last kernel launched " + where + " was " + function.name()
                        + " (a fault inside a kernel is reported at the next synchronization)";
    }

    <T extends ContextResource> T own(T resource) {
        owned.add(resource);
        return resource;
    }

    void disown(ContextResource resource) {
        owned.remove(resource);
    }

    private List<HostStaging> stagings() {
        List<HostStaging> stagings = new ArrayList<>();
        stagings.add(defaultStreamStaging);
        for (ContextResource resource : owned) {
            if (resource instanceof CudaStream stream) {
                stagings.add(stream.staging());
            }
        }
        return stagings;
    }

    String describe() {
        return "CudaContext#" + id + "(device " + ordinal + ")";
    }
}
