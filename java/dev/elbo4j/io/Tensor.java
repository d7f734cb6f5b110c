package dev.elbo4j.io;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * One named tensor to write to a safetensors file: its element type, its shape (row-major, outermost first) and
 * its data.
 *
 * <p>{@code data} holds the elements in the platform's native byte order, as Java arrays and off-heap memory
 * written through {@link java.lang.foreign.ValueLayout#JAVA_FLOAT} and friends do; the writer turns them into the
 * file's little-endian order. It is referenced, not copied: it must stay unchanged, alive and readable by the
 * writing thread until {@link SafeTensors#write} returns. The factories wrap a Java array without copying it.
 *
 * @param name  the header key; any string but {@code "__metadata__"}
 * @param dtype the element type
 * @param shape the dimension sizes, each at least 0; empty for a 0-d scalar (one element)
 * @param data  exactly element count x {@code dtype.byteSize()} bytes
 */
public record Tensor(String name, DType dtype, long[] shape, MemorySegment data) {

    /** The header key reserved for the string-to-string metadata. */
    public static final String METADATA_KEY = "__metadata__";

    /**
     * Checks the name, the shape and the data's size, and keeps a copy of {@code shape}.
     *
     * @throws IllegalArgumentException when the name is reserved, a dimension is negative, the element count
     *                                  overflows a long, or {@code data} is not exactly the tensor's size
     */
    public Tensor {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(data, "data");
        if (name.equals(METADATA_KEY)) {
            throw new IllegalArgumentException(METADATA_KEY + " is reserved for the metadata, not a tensor name");
        }
        shape = shape.clone();
        long bytes;
        try {
            bytes = Math.multiplyExact(elementCount(shape), dtype.byteSize());
        } catch (IllegalArgumentException negative) {
            throw new IllegalArgumentException("tensor '" + name + "': " + negative.getMessage());
        } catch (ArithmeticException overflow) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                    + " has more bytes than a long counts");
        }
        if (data.byteSize() != bytes) {
            throw new IllegalArgumentException("tensor '" + name + "': " + dtype + " " + Arrays.toString(shape)
                    + " is " + bytes + " bytes, but its data is " + data.byteSize() + " bytes");
        }
    }

    /** An F32 tensor over {@code values} (not copied). */
    public static Tensor of(String name, float[] values, long... shape) {
        return new Tensor(name, DType.F32, shape, MemorySegment.ofArray(values));
    }

    /** An I32 tensor over {@code values} (not copied). */
    public static Tensor of(String name, int[] values, long... shape) {
        return new Tensor(name, DType.I32, shape, MemorySegment.ofArray(values));
    }

    /** An I64 tensor over {@code values} (not copied). */
    public static Tensor of(String name, long[] values, long... shape) {
        return new Tensor(name, DType.I64, shape, MemorySegment.ofArray(values));
    }

    /** A U8 tensor over {@code values} (not copied); bytes are read as unsigned 0..255. */
    public static Tensor of(String name, byte[] values, long... shape) {
        return new Tensor(name, DType.U8, shape, MemorySegment.ofArray(values));
    }

    /** A copy of the dimension sizes. */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** The number of elements: the product of the dimensions (1 for a scalar). */
    public long elementCount() {
        return elementCount(shape);
    }

    @Override
    public String toString() {
        return "Tensor[" + name + ": " + dtype + " " + Arrays.toString(shape) + "]";
    }

    /**
     * The product of {@code shape}'s dimensions (1 for none).
     *
     * @throws IllegalArgumentException when a dimension is negative
     * @throws ArithmeticException      when the product overflows a long
     */
    static long elementCount(long[] shape) {
        long count = 1;
        for (long dimension : shape) {
            if (dimension < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            count = Math.multiplyExact(count, dimension);
        }
        return count;
    }
}
