package dev.elbo4j.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.function.Function;

/**
 * Device memory of a known size: either an allocation this object owns ({@link CudaContext#allocate}) or a
 * view of part of one ({@link #slice}). Every copy and view is checked against the size in Java before any
 * native call: a mismatch throws {@link IllegalArgumentException} naming both sizes, and any use after close
 * (of this buffer, of a view's buffer, or of the context) throws {@link IllegalStateException}.
 *
 * <h2>Synchronous and asynchronous copies</h2>
 * A copy covers an array exactly: the whole buffer ({@code copyFrom(float[])}: the sizes must match) or, like a
 * kernel that uses part of a larger buffer, a slice of it named by its first element
 * ({@code copyFrom(float[], long)}, the same as {@code sliceFloats(first, src.length).copyFrom(src)}).
 * Synchronous copies run on the legacy default stream: they wait for earlier work on every stream of the
 * context and return when the data has arrived. Host arrays are staged through off-heap memory.
 * <p>Asynchronous copies to and from Java arrays ({@code copyFromAsync(float[], stream)}, {@code
 * copyToAsync(float[], stream)}, ...) are staged through page-locked host memory kept per stream:
 * <ul>
 *   <li>an upload copies the array before it returns: the array may be reused at once;</li>
 *   <li>a download fills the array only when {@link CudaStream#synchronize()} (or
 *       {@link CudaContext#synchronize()} for the legacy default stream and all others) returns; until then
 *       its contents are unspecified. Events do not complete it.</li>
 * </ul>
 * Copies to and from Java arrays cannot be captured into a graph (the staging memory is recycled at the next
 * synchronization): they throw {@link IllegalStateException} on a capturing stream. Device-to-device copies
 * and fills can be captured.
 *
 * <h2>Closing</h2>
 * {@link #close()} frees the memory of an owning buffer; a view (and a {@linkplain CudaContext#wrap wrapped}
 * pointer) only becomes unusable. Closing is safe while other threads use the buffer, and while the device still
 * has work queued that uses it:
 * <ol>
 *   <li>the buffer is marked closed at once: every later launch, copy or fill that names it (or a view of it)
 *       throws {@link IllegalStateException} before reaching the driver;</li>
 *   <li>close waits for the calls already past their checks on other threads to finish enqueueing;</li>
 *   <li>then it waits for all work queued in the buffer's context ({@code cuCtxSynchronize}: work of other
 *       contexts never uses the buffer, see {@link CudaContext}, "One context per operation") and only then
 *       frees the memory ({@code cuMemFree}).</li>
 * </ol>
 * So freeing synchronizes: close a buffer when the work that uses it may be waited for (at the end of a
 * training run, not inside its step), or keep it and close the context. A graph that captured work on the buffer
 * refuses to launch after the buffer is closed.
 */
public final class DeviceBuffer extends ContextResource {
    private final DriverApi driver;
    /** The buffer that owns the memory when this is a view, else null. */
    private final DeviceBuffer owner;
    /** Whether closing frees the memory: false for views and for wrapped pointers. */
    private final boolean owning;
    private final long address;
    private final long byteSize;

    /** An owning buffer over a fresh allocation. */
    DeviceBuffer(CudaContext context, long address, long byteSize) {
        this(context, null, true, address, byteSize);
    }

    private DeviceBuffer(CudaContext context, DeviceBuffer owner, boolean owning, long address, long byteSize) {
        super(context);
        this.driver = context.driver();
        this.owner = owner;
        this.owning = owning;
        this.address = address;
        this.byteSize = byteSize;
    }

    /** A buffer over memory elbo4j does not own ({@link CudaContext#wrap(long, long)}): never freed here. */
    static DeviceBuffer wrapped(CudaContext context, long address, long byteSize) {
        return new DeviceBuffer(context, null, false, address, byteSize);
    }

    /** Size in bytes. */
    public long byteSize() {
        return byteSize;
    }

    /** Size in floats: {@code byteSize() / 4}. */
    public long floatCount() {
        return byteSize / Float.BYTES;
    }

    /** The context that owns the memory. */
    public CudaContext context() {
        return context;
    }

    /** Whether this buffer, or for a view the buffer it views, is closed. */
    @Override
    public boolean isClosed() {
        return super.isClosed() || (owner != null && owner.isClosed());
    }

    /** Whether this is a view made by {@link #slice}. */
    public boolean isView() {
        return owner != null;
    }

    /** Whether closing this buffer frees its memory: false for views and for wrapped pointers. */
    public boolean isOwning() {
        return owning;
    }

    /**
     * Whether the address is a multiple of {@code bytes} (a power of two): a float32 tensor needs 4, and the kernels
     * read 16-byte aligned tensors four floats at a time.
     */
    public boolean isAligned(int bytes) {
        if (bytes < 1 || Integer.bitCount(bytes) != 1) {
            throw new IllegalArgumentException("alignment must be a power of two, got " + bytes);
        }
        return (address & (bytes - 1)) == 0;
    }

    /**
     * The device address (a CUdeviceptr), e.g. for kernel arguments.
     *
     * @throws IllegalStateException when closed
     */
    public long address() {
        checkOpen();
        return address;
    }

    /**
     * A view of {@code byteLength} bytes starting {@code byteOffset} bytes into this buffer. The view is not
     * freed separately; closing it only makes it unusable, and it becomes unusable when this buffer closes.
     *
     * @throws IllegalArgumentException when the range does not lie within this buffer
     */
    public DeviceBuffer slice(long byteOffset, long byteLength) {
        checkOpen();
        if (byteOffset < 0 || byteLength < 0 || byteOffset > byteSize - byteLength) {
            throw new IllegalArgumentException("slice of bytes [" + byteOffset + ", " + byteOffset + " + " + byteLength
                    + ") is outside " + this);
        }
        return new DeviceBuffer(context, owner == null ? this : owner, false, address + byteOffset, byteLength);
    }

    /**
     * A view of {@code count} floats starting at float index {@code firstFloat}.
     *
     * @throws IllegalArgumentException when the range does not lie within this buffer
     */
    public DeviceBuffer sliceFloats(long firstFloat, long count) {
        if (firstFloat < 0 || count < 0 || firstFloat > Long.MAX_VALUE / Float.BYTES
                || count > Long.MAX_VALUE / Float.BYTES) {
            throw new IllegalArgumentException("slice of floats [" + firstFloat + ", " + firstFloat + " + " + count
                    + ") is outside " + this);
        }
        return slice(firstFloat * Float.BYTES, count * Float.BYTES);
    }

    // ---- synchronous copies ------------------------------------------------------------------------------

    /** Copies {@code src} (exactly {@link #floatCount()} floats) into this buffer. */
    public void copyFrom(float[] src) {
        checkLength("copyFrom(float[])", src.length, Float.BYTES);
        upload(MemorySegment.ofArray(src));
    }

    /** Copies {@code src} (exactly {@link #byteSize()} bytes) into this buffer. */
    public void copyFrom(byte[] src) {
        checkLength("copyFrom(byte[])", src.length, Byte.BYTES);
        upload(MemorySegment.ofArray(src));
    }

    /** Copies {@code src} (exactly {@code byteSize() / 4} ints) into this buffer. */
    public void copyFrom(int[] src) {
        checkLength("copyFrom(int[])", src.length, Integer.BYTES);
        upload(MemorySegment.ofArray(src));
    }

    /** Copies this buffer into {@code dst} (exactly {@link #floatCount()} floats). */
    public void copyTo(float[] dst) {
        checkLength("copyTo(float[])", dst.length, Float.BYTES);
        download(MemorySegment.ofArray(dst));
    }

    /** Copies this buffer into {@code dst} (exactly {@link #byteSize()} bytes). */
    public void copyTo(byte[] dst) {
        checkLength("copyTo(byte[])", dst.length, Byte.BYTES);
        download(MemorySegment.ofArray(dst));
    }

    /**
     * Copies {@code src} into the slice of this buffer that starts at float {@code firstFloat}.
     *
     * @throws IllegalArgumentException when {@code [firstFloat, firstFloat + src.length)} is not within the buffer
     */
    public void copyFrom(float[] src, long firstFloat) {
        sliceFloats(firstFloat, src.length).copyFrom(src);
    }

    /**
     * Copies the slice of this buffer that starts at float {@code firstFloat} into {@code dst}.
     *
     * @throws IllegalArgumentException when {@code [firstFloat, firstFloat + dst.length)} is not within the buffer
     */
    public void copyTo(float[] dst, long firstFloat) {
        sliceFloats(firstFloat, dst.length).copyTo(dst);
    }

    /**
     * Copies {@code src} into the slice of this buffer that starts at byte {@code firstByte}.
     *
     * @throws IllegalArgumentException when {@code [firstByte, firstByte + src.length)} is not within the buffer
     */
    public void copyFrom(byte[] src, long firstByte) {
        slice(firstByte, src.length).copyFrom(src);
    }

    /**
     * Copies the slice of this buffer that starts at byte {@code firstByte} into {@code dst}.
     *
     * @throws IllegalArgumentException when {@code [firstByte, firstByte + dst.length)} is not within the buffer
     */
    public void copyTo(byte[] dst, long firstByte) {
        slice(firstByte, dst.length).copyTo(dst);
    }

    /** Copies this buffer into {@code dst} (exactly {@code byteSize() / 4} ints). */
    public void copyTo(int[] dst) {
        checkLength("copyTo(int[])", dst.length, Integer.BYTES);
        download(MemorySegment.ofArray(dst));
    }

    /** This buffer's contents as floats (the size must be a multiple of 4 bytes). */
    public float[] toFloatArray() {
        float[] values = new float[arrayLength("toFloatArray()", Float.BYTES)];
        copyTo(values);
        return values;
    }

    /** This buffer's contents as ints (the size must be a multiple of 4 bytes). */
    public int[] toIntArray() {
        int[] values = new int[arrayLength("toIntArray()", Integer.BYTES)];
        copyTo(values);
        return values;
    }

    /** This buffer's contents as bytes. */
    public byte[] toByteArray() {
        byte[] values = new byte[arrayLength("toByteArray()", Byte.BYTES)];
        copyTo(values);
        return values;
    }

    /**
     * Copies {@code src} (same size, no overlap) into this buffer, device to device, on the legacy default
     * stream.
     */
    public void copyFrom(DeviceBuffer src) {
        checkDeviceSource(src);
        if (byteSize == 0) {
            return;
        }
        enterBoth(src);
        try {
            context.ensureCurrent();
            driver.check(driver.memcpyDtoD(address, src.address, byteSize), "cuMemcpyDtoD_v2", byteSize + " bytes");
        } finally {
            exitBoth(src);
        }
    }

    // ---- asynchronous copies -----------------------------------------------------------------------------

    /** Enqueues a copy of {@code src} into this buffer on {@code stream}; {@code src} may be reused at once. */
    public void copyFromAsync(float[] src, CudaStream stream) {
        checkLength("copyFromAsync(float[])", src.length, Float.BYTES);
        uploadAsync(MemorySegment.ofArray(src), stream);
    }

    /** Enqueues a copy of {@code src} into this buffer on {@code stream}; {@code src} may be reused at once. */
    public void copyFromAsync(byte[] src, CudaStream stream) {
        checkLength("copyFromAsync(byte[])", src.length, Byte.BYTES);
        uploadAsync(MemorySegment.ofArray(src), stream);
    }

    /** Enqueues a copy of {@code src} into this buffer on {@code stream}; {@code src} may be reused at once. */
    public void copyFromAsync(int[] src, CudaStream stream) {
        checkLength("copyFromAsync(int[])", src.length, Integer.BYTES);
        uploadAsync(MemorySegment.ofArray(src), stream);
    }

    /** Enqueues a copy into {@code dst}, which is filled when {@code stream} is next synchronized. */
    public void copyToAsync(float[] dst, CudaStream stream) {
        checkLength("copyToAsync(float[])", dst.length, Float.BYTES);
        downloadAsync(MemorySegment.ofArray(dst), stream);
    }

    /** Enqueues a copy into {@code dst}, which is filled when {@code stream} is next synchronized. */
    public void copyToAsync(byte[] dst, CudaStream stream) {
        checkLength("copyToAsync(byte[])", dst.length, Byte.BYTES);
        downloadAsync(MemorySegment.ofArray(dst), stream);
    }

    /** Enqueues a copy into {@code dst}, which is filled when {@code stream} is next synchronized. */
    public void copyToAsync(int[] dst, CudaStream stream) {
        checkLength("copyToAsync(int[])", dst.length, Integer.BYTES);
        downloadAsync(MemorySegment.ofArray(dst), stream);
    }

    /** Enqueues a device-to-device copy of {@code src} (same size, no overlap) into this buffer. */
    public void copyFromAsync(DeviceBuffer src, CudaStream stream) {
        checkDeviceSource(src);
        context.streamHandle(stream);
        if (byteSize == 0) {
            return;
        }
        long streamHandle = context.enterStream(stream);
        try {
            enterBoth(src);
            try {
                context.ensureCurrent();
                driver.check(driver.memcpyDtoDAsync(address, src.address, byteSize, streamHandle),
                        "cuMemcpyDtoDAsync_v2", byteSize + " bytes");
            } finally {
                exitBoth(src);
            }
        } finally {
            CudaContext.exitStream(stream);
        }
    }

    // ---- fills -------------------------------------------------------------------------------------------

    /** Sets every byte to {@code value} (cuMemsetD8). */
    public void fillBytes(byte value) {
        checkOpen();
        if (byteSize == 0) {
            return;
        }
        enter();
        try {
            context.ensureCurrent();
            driver.check(driver.memsetD8(address, value, byteSize), "cuMemsetD8_v2");
        } finally {
            exit();
        }
    }

    /**
     * Sets every 4-byte word to {@code value} (cuMemsetD32).
     *
     * @throws IllegalArgumentException when the size or address is not a multiple of 4
     */
    public void fillInts(int value) {
        checkWords("fillInts");
        if (byteSize == 0) {
            return;
        }
        enter();
        try {
            context.ensureCurrent();
            driver.check(driver.memsetD32(address, value, byteSize / Integer.BYTES), "cuMemsetD32_v2");
        } finally {
            exit();
        }
    }

    /**
     * Sets every float to {@code value}, bit for bit (e.g. {@code Float.NaN} to poison an output).
     *
     * @throws IllegalArgumentException when the size or address is not a multiple of 4
     */
    public void fillFloats(float value) {
        fillInts(Float.floatToRawIntBits(value));
    }

    /** Enqueues {@link #fillBytes} on {@code stream} (null: the legacy default stream). */
    public void fillBytesAsync(byte value, CudaStream stream) {
        checkOpen();
        context.streamHandle(stream);
        if (byteSize == 0) {
            return;
        }
        long streamHandle = context.enterStream(stream);
        try {
            enter();
            try {
                context.ensureCurrent();
                driver.check(driver.memsetD8Async(address, value, byteSize, streamHandle), "cuMemsetD8Async");
            } finally {
                exit();
            }
        } finally {
            CudaContext.exitStream(stream);
        }
    }

    /** Enqueues {@link #fillInts} on {@code stream} (null: the legacy default stream). */
    public void fillIntsAsync(int value, CudaStream stream) {
        checkWords("fillIntsAsync");
        context.streamHandle(stream);
        if (byteSize == 0) {
            return;
        }
        long streamHandle = context.enterStream(stream);
        try {
            enter();
            try {
                context.ensureCurrent();
                driver.check(driver.memsetD32Async(address, value, byteSize / Integer.BYTES, streamHandle),
                        "cuMemsetD32Async");
            } finally {
                exit();
            }
        } finally {
            CudaContext.exitStream(stream);
        }
    }

    /** Enqueues {@link #fillFloats} on {@code stream} (null: the legacy default stream). */
    public void fillFloatsAsync(float value, CudaStream stream) {
        fillIntsAsync(Float.floatToRawIntBits(value), stream);
    }

    /**
     * Frees the memory of an owning buffer once the context's queued work, which may still use it, has finished
     * (see "Closing" above). The memory is freed even when the wait fails, whose error is then thrown.
     */
    @Override
    void release() {
        int synchronizedResult = driver.ctxSynchronize();
        int freed = driver.memFree(address);
        driver.check(synchronizedResult, "cuCtxSynchronize", "waiting for queued work before freeing " + this + "; "
                + CudaContext.lastLaunchDetail(context.lastLaunch(), "in this context"));
        driver.check(freed, "cuMemFree_v2", "freeing " + this);
    }

    /**
     * Only owning buffers are registered with the context: views and wrapped pointers own no memory, and closing
     * one only makes it unusable.
     */
    @Override
    boolean registeredWithContext() {
        return owning;
    }

    /** A view holds its owner in use, so the memory stays allocated; every buffer needs its context open. */
    @Override
    void enter() {
        if (owner == null) {
            super.enter();
        } else {
            super.checkOpen();
            owner.enter();
            CudaContext.recordUse(this);
        }
        if (context.isClosed()) {
            exit();
            context.checkOpen();
        }
    }

    @Override
    void exit() {
        if (owner == null) {
            super.exit();
        } else {
            owner.exit();
        }
    }

    @Override
    String kind() {
        return owner != null ? "DeviceBuffer view" : owning ? "DeviceBuffer" : "DeviceBuffer wrapping";
    }

    @Override
    String identity() {
        return byteSize + " bytes at " + hex(address);
    }

    // ---- checks and transfers ----------------------------------------------------------------------------

    @Override
    void checkOpen() {
        super.checkOpen();
        if (owner != null && owner.isClosed()) {
            throw new IllegalStateException(this + " is a view of " + owner + ", which is closed");
        }
        context.checkOpen();
    }

    /** Checks that an array of {@code length} elements of {@code elementBytes} matches this buffer exactly. */
    private void checkLength(String operation, int length, int elementBytes) {
        checkOpen();
        if ((long) length * elementBytes != byteSize) {
            throw new IllegalArgumentException(operation + ": the array has " + length + " elements ("
                    + (long) length * elementBytes + " bytes) but the buffer holds " + byteSize + " bytes ("
                    + byteSize / elementBytes + (byteSize % elementBytes == 0 ? "" : " whole") + " elements of "
                    + elementBytes + " bytes)");
        }
    }

    private int arrayLength(String operation, int elementBytes) {
        checkOpen();
        if (byteSize % elementBytes != 0 || byteSize / elementBytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(operation + ": " + this + " does not hold a whole number of "
                    + elementBytes + "-byte elements that fits in one Java array");
        }
        return (int) (byteSize / elementBytes);
    }

    private void checkWords(String operation) {
        checkOpen();
        if (byteSize % Integer.BYTES != 0 || address % Integer.BYTES != 0) {
            throw new IllegalArgumentException(operation + " writes 4-byte words: " + this
                    + " must have a size and an address that are multiples of 4");
        }
    }

    private void checkDeviceSource(DeviceBuffer src) {
        Objects.requireNonNull(src, "src");
        checkOpen();
        src.checkOpen();
        context.checkSameContext(src.context, "device copy: the source " + src);
        if (src.byteSize != byteSize) {
            throw new IllegalArgumentException("device copy: the source " + src + " and the destination " + this
                    + " differ in size");
        }
        if (src.address < address + byteSize && address < src.address + src.byteSize) {
            throw new IllegalArgumentException("device copy: the source " + src + " overlaps the destination " + this);
        }
    }

    private void upload(MemorySegment source) {
        if (byteSize == 0) {
            return;
        }
        enter();
        try (Arena arena = Arena.ofConfined()) {
            context.ensureCurrent();
            MemorySegment staged = arena.allocate(byteSize, Long.BYTES);
            MemorySegment.copy(source, 0, staged, 0, byteSize);
            driver.check(driver.memcpyHtoD(address, staged, byteSize), "cuMemcpyHtoD_v2", byteSize + " bytes");
        } finally {
            exit();
        }
    }

    private void download(MemorySegment target) {
        if (byteSize == 0) {
            return;
        }
        enter();
        try (Arena arena = Arena.ofConfined()) {
            context.ensureCurrent();
            MemorySegment staged = arena.allocate(byteSize, Long.BYTES);
            // A synchronous copy waits for earlier kernels, so their faults surface here: name the last one.
            driver.check(driver.memcpyDtoH(staged, address, byteSize), "cuMemcpyDtoH_v2",
                    CudaContext.lastLaunchDetail(context.lastLaunch(), "in this context"));
            MemorySegment.copy(staged, 0, target, 0, byteSize);
        } finally {
            exit();
        }
    }

    private void uploadAsync(MemorySegment source, CudaStream stream) {
        copyAsync(stream, "cuMemcpyHtoDAsync_v2", staging -> staging.stageUpload(source),
                (pinned, streamHandle) -> driver.memcpyHtoDAsync(address, pinned, byteSize, streamHandle));
    }

    private void downloadAsync(MemorySegment target, CudaStream stream) {
        copyAsync(stream, "cuMemcpyDtoHAsync_v2", staging -> staging.stageDownload(target),
                (pinned, streamHandle) -> driver.memcpyDtoHAsync(pinned, address, byteSize, streamHandle));
    }

    /** The driver's asynchronous copy between this buffer and pinned host memory; returns its CUresult. */
    @FunctionalInterface
    private interface PinnedCopy {
        int enqueue(MemorySegment pinned, long streamHandle);
    }

    /**
     * Enqueues {@code copy} on {@code stream} through the stream's pinned staging memory ({@code stage} reserves it,
     * and gives it back when the driver refuses the copy), holding the stream and this buffer in use meanwhile.
     */
    private void copyAsync(CudaStream stream, String call, Function<HostStaging, MemorySegment> stage,
                           PinnedCopy copy) {
        context.streamHandle(stream);
        checkNotCapturing(stream);
        if (byteSize == 0) {
            return;
        }
        long streamHandle = context.enterStream(stream);
        try {
            enter();
            try {
                context.ensureCurrent();
                HostStaging staging = context.staging(stream);
                int result = copy.enqueue(stage.apply(staging), streamHandle);
                if (result != DriverApi.CUDA_SUCCESS) {
                    staging.cancelLast();
                    throw driver.error(result, call, byteSize + " bytes");
                }
            } finally {
                exit();
            }
        } finally {
            CudaContext.exitStream(stream);
        }
    }

    /** Holds this buffer and {@code other} in use (the other first released if this one is closed). */
    private void enterBoth(DeviceBuffer other) {
        other.enter();
        try {
            enter();
        } catch (RuntimeException closed) {
            other.exit();
            throw closed;
        }
    }

    private void exitBoth(DeviceBuffer other) {
        exit();
        other.exit();
    }

    private static void checkNotCapturing(CudaStream stream) {
        if (stream != null && stream.isCapturing()) {
            throw new IllegalStateException("copies between Java arrays and device memory cannot be captured into a "
                    + "graph (their staging memory is recycled at the next synchronization); stage the data in a "
                    + "device buffer before the capture");
        }
    }
}
