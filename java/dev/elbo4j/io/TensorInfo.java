package dev.elbo4j.io;

import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor's entry in a safetensors header, as validated by {@link SafeTensors#open}.
 *
 * @param name  the header key
 * @param dtype the element type
 * @param shape the dimension sizes (empty for a 0-d scalar)
 * @param begin the first byte of its data, counted from the first byte after the header
 * @param end   one past its last byte, likewise; {@code end - begin} is element count x {@code dtype.byteSize()}
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {

    /** Keeps a copy of {@code shape}. */
    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
    }

    /** A copy of the dimension sizes. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** The number of elements (1 for a scalar); the header was checked not to overflow it. */
    public long elementCount() {
        return Tensor.elementCount(shape);
    }

    /** The size of its data in bytes. */
    public long byteSize() {
        return end - begin;
    }

    /** True when the dtype and the shape are these. */
    public boolean matches(DType expectedDtype, long... expectedShape) {
        return dtype == expectedDtype && Arrays.equals(shape, expectedShape);
    }

    /** For example {@code F32 [400, 784]}. */
    public String describe() {
        return dtype + " " + Arrays.toString(shape);
    }

    @Override
    public String toString() {
        return "TensorInfo[" + name + ": " + describe() + " at [" + begin + ", " + end + ")]";
    }
}
