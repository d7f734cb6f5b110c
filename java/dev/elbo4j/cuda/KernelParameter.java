package dev.elbo4j.cuda;

/**
 * What one parameter of a kernel is, as its {@code extern "C"} signature declares it; a {@link CudaFunction} is
 * bound with the list of them ({@link CudaModule#function(String, KernelParameter...)}) and every launch's arguments
 * are checked against it. The driver reports only each parameter's size, which cannot tell a device pointer from a
 * 64-bit integer: the declaration does, so that a pointer parameter can only ever receive the address of an open
 * {@link DeviceBuffer} of the kernel's context, never a number.
 */
public enum KernelParameter {
    /** A device pointer ({@code float*}, {@code const unsigned char*}, ...): a {@link DeviceBuffer}, never null. */
    POINTER(8, "a DeviceBuffer"),
    /** A device pointer the kernel tests for null (an optional output): a {@link DeviceBuffer} or {@code null}. */
    NULLABLE_POINTER(8, "a DeviceBuffer or null"),
    /** {@code int} or {@code unsigned}: an {@link Integer}. */
    INT(4, "an Integer"),
    /** {@code long long} or {@code unsigned long long}: a {@link Long}. */
    LONG(8, "a Long"),
    /** {@code float}: a {@link Float}. */
    FLOAT(4, "a Float"),
    /** {@code double}: a {@link Double}. */
    DOUBLE(8, "a Double");

    private final int bytes;
    private final String javaType;

    KernelParameter(int bytes, String javaType) {
        this.bytes = bytes;
        this.javaType = javaType;
    }

    /** The parameter's size in bytes, as the driver reports it. */
    public int bytes() {
        return bytes;
    }

    /** What a launch passes for it, in words ("a DeviceBuffer"). */
    String javaType() {
        return javaType;
    }

    /** Whether this is a device pointer. */
    boolean isPointer() {
        return this == POINTER || this == NULLABLE_POINTER;
    }
}
