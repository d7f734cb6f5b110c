package dev.elbo4j.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * Device memory of a known size: either an allocation this object owns ({@link CudaContext#allocate}) or a
 * view of part of one ({@link #slice}). Every copy and view is checked against the size in Java before any
 * native call: a mismatch throws {@link IllegalArgumentException} naming both sizes, and any use after close
 * (of this buffer, of a view's buffer, or of the context) throws {@link IllegalStateException}.
 *
 * <h2>Synchronous and asynchronous copies</h2>
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
 * {@link #close()} frees the memory of an owning buffer; a view only becomes unusable. The caller makes sure
 * no enqueued work still uses the buffer; {@link CudaContext#close()} waits for the device before freeing what
 * it owns.
 */
public final class DeviceBuffer extends ContextResource {
    private final DriverApi driver;
    /** The buffer that owns the memory when this is a view, else null. */
    private final DeviceBuffer owner;
    private final long address;
    private final long byteSize;

    /** An owning buffer over a fresh allocation. */
    DeviceBuffer(CudaContext context, long address, long byteSize) {
        this(context, null, address, byteSize);
    }

    private DeviceBuffer(CudaContext context, DeviceBuffer owner, long address, long byteSize) {
        super(context);
        this.driver = context.driver();
        this.owner = owner;
        this.address = address;
        this.byteSize = byteSize;
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
        return new DeviceBuffer(context, owner == null ? this : owner, address + byteOffset, byteLength);
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
        context.ensureCurrent();
        driver.check(driver.memcpyDtoD(address, src.address, byteSize), "cuMemcpyDtoD_v2", byteSize + " bytes");
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
        long streamHandle = context.streamHandle(stream);
        if (byteSize == 0) {
            return;
        }
        context.ensureCurrent();
        driver.check(driver.memcpyDtoDAsync(address, src.address, byteSize, streamHandle), "cuMemcpyDtoDAsync_v2",
                byteSize + " bytes");
    }

    // ---- fills -------------------------------------------------------------------------------------------

    /** Sets every byte to {@code value} (cuMemsetD8). */
    public void fillBytes(byte value) {
        checkOpen();
        if (byteSize == 0) {
            return;
        }
        context.ensureCurrent();
        driver.check(driver.memsetD8(address, value, byteSize), "cuMemsetD8_v2");
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
        context.ensureCurrent();
        driver.check(driver.memsetD32(address, value, byteSize / Integer.BYTES), "cuMemsetD32_v2");
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
        long streamHandle = context.streamHandle(stream);
        if (byteSize == 0) {
            return;
        }
        context.ensureCurrent();
        driver.check(driver.memsetD8Async(address, value, byteSize, streamHandle), "cuMemsetD8Async");
    }

    /** Enqueues {@link #fillInts} on {@code stream} (null: the legacy default stream). */
    public void fillIntsAsync(int value, CudaStream stream) {
        checkWords("fillIntsAsync");
        long streamHandle = context.streamHandle(stream);
        if (byteSize == 0) {
            return;
        }
        context.ensureCurrent();
        driver.check(driver.memsetD32Async(address, value, byteSize / Integer.BYTES, streamHandle), "cuMemsetD32Async");
    }

    /** Enqueues {@link #fillFloats} on {@code stream} (null: the legacy default stream). */
    public void fillFloatsAsync(float value, CudaStream stream) {
        fillIntsAsync(Float.floatToRawIntBits(value), stream);
    }

    /** Frees the memory of an owning buffer. */
    @Override
    void release() {
        driver.check(driver.memFree(address), "cuMemFree_v2", "freeing " + this);
    }

    /** Views are never registered with the context and own no memory: closing one only makes it unusable. */
    @Override
    boolean registeredWithContext() {
        return owner == null;
    }

    @Override
    String kind() {
        return owner == null ? "DeviceBuffer" : "DeviceBuffer view";
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
        context.ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staged = arena.allocate(byteSize, Long.BYTES);
            MemorySegment.copy(source, 0, staged, 0, byteSize);
            driver.check(driver.memcpyHtoD(address, staged, byteSize), "cuMemcpyHtoD_v2", byteSize + " bytes");
        }
    }

    private void download(MemorySegment target) {
        if (byteSize == 0) {
            return;
        }
        context.ensureCurrent();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staged = arena.allocate(byteSize, Long.BYTES);
            // A synchronous copy waits for earlier kernels, so their faults surface here: name the last one.
            driver.check(driver.memcpyDtoH(staged, address, byteSize), "cuMemcpyDtoH_v2",
                    CudaContext.lastLaunchDetail(context.lastLaunch(), "in this context"));
            MemorySegment.copy(staged, 0, target, 0, byteSize);
        }
    }

    private void uploadAsync(MemorySegment source, CudaStream stream) {
        long streamHandle = context.streamHandle(stream);
        checkNotCapturing(stream);
        if (byteSize == 0) {
            return;
        }
        context.ensureCurrent();
        HostStaging staging = context.staging(stream);
        MemorySegment pinned = staging.stageUpload(source);
        int result = driver.memcpyHtoDAsync(address, pinned, byteSize, streamHandle);
        if (result != DriverApi.CUDA_SUCCESS) {
            staging.cancelLast();
            throw driver.error(result, "cuMemcpyHtoDAsync_v2", byteSize + " bytes");
        }
    }

    private void downloadAsync(MemorySegment target, CudaStream stream) {
        long streamHandle = context.streamHandle(stream);
        checkNotCapturing(stream);
        if (byteSize == 0) {
            return;
        }
        context.ensureCurrent();
        HostStaging staging = context.staging(stream);
        MemorySegment pinned = staging.stageDownload(target);
        int result = driver.memcpyDtoHAsync(pinned, address, byteSize, streamHandle);
        if (result != DriverApi.CUDA_SUCCESS) {
            staging.cancelLast();
            throw driver.error(result, "cuMemcpyDtoHAsync_v2", byteSize + " bytes");
        }
    }

    private static void checkNotCapturing(CudaStream stream) {
        if (stream != null && stream.isCapturing()) {
            throw new IllegalStateException("copies between Java arrays and device memory cannot be captured into a "
                    + "graph (their staging memory is recycled at the next synchronization); stage the data in a "
                    + "device buffer before the capture");
        }
    }
}
