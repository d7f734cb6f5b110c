package dev.elbo4j.cpu;

import java.util.Objects;

import dev.elbo4j.nn.Backend;

/** The CPU backend's buffers: Java arrays (a root and its views share one array and one open/closed flag). */
final class CpuBuffers {

    private CpuBuffers() {
    }

    /** The open/closed flag of a root buffer, shared by its views. */
    static final class Root {
        final CpuBackend owner;
        volatile boolean closed;

        Root(CpuBackend owner) {
            this.owner = owner;
        }
    }

    /** A range {@code [offset, offset + length)} of a root's array; closing the whole range closes the root. */
    abstract static class Range {
        final Root root;
        final int offset;
        final int length;
        private final int arrayLength;

        Range(Root root, int arrayLength, int offset, int length) {
            this.root = root;
            this.arrayLength = arrayLength;
            this.offset = offset;
            this.length = length;
        }

        public long size() {
            return length;
        }

        public void close() {
            if (offset == 0 && length == arrayLength) {
                root.closed = true;
            }
        }

        /** Checks that {@code [offset, offset + count)} lies in this range. */
        void checkSlice(long offset, long count) {
            if (offset < 0 || count < 0 || offset + count > length) {
                throw new IllegalArgumentException("slice [" + offset + ", " + (offset + count)
                        + ") is outside a buffer of " + length + " elements");
            }
        }
    }

    /** A range of a float array. */
    static final class CpuFloats extends Range implements Backend.Floats {
        final float[] array;

        CpuFloats(Root root, float[] array, int offset, int length) {
            super(root, array.length, offset, length);
            this.array = array;
        }

        @Override
        public Backend.Floats slice(long offset, long count) {
            checkSlice(offset, count);
            return new CpuFloats(root, array, this.offset + (int) offset, (int) count);
        }
    }

    /** A range of a byte array. */
    static final class CpuBytes extends Range implements Backend.Bytes {
        final byte[] array;

        CpuBytes(Root root, byte[] array, int offset, int length) {
            super(root, array.length, offset, length);
            this.array = array;
        }

        @Override
        public Backend.Bytes slice(long offset, long count) {
            checkSlice(offset, count);
            return new CpuBytes(root, array, this.offset + (int) offset, (int) count);
        }
    }

    /** An int array, whole. */
    static final class CpuInts extends Range implements Backend.Ints {
        final int[] array;

        CpuInts(Root root, int[] array) {
            super(root, array.length, 0, array.length);
            this.array = array;
        }
    }

    /** The elements a Java array of {@code count} may hold, or an exception naming what was asked. */
    static int arrayLength(long count, String what) {
        if (count < 0 || count > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("cannot allocate " + count + " " + what
                    + " on the CPU backend: a buffer holds 0 to 2^31 - 9 elements");
        }
        return (int) count;
    }

    /** The CPU buffer behind {@code buffer}, checked to belong to {@code owner}, be open and hold {@code needed}. */
    static CpuFloats floats(CpuBackend owner, Backend.Floats buffer, String name, long needed) {
        CpuFloats cpu = owned(owner, buffer, CpuFloats.class, name);
        checkHolds(cpu.length, needed, name, "floats");
        return cpu;
    }

    /** {@link #floats} for an optional buffer: null stays null. */
    static CpuFloats optionalFloats(CpuBackend owner, Backend.Floats buffer, String name, long needed) {
        return buffer == null ? null : floats(owner, buffer, name, needed);
    }

    /** The CPU byte buffer behind {@code buffer}, checked like {@link #floats}. */
    static CpuBytes bytes(CpuBackend owner, Backend.Bytes buffer, String name, long needed) {
        CpuBytes cpu = owned(owner, buffer, CpuBytes.class, name);
        checkHolds(cpu.length, needed, name, "bytes");
        return cpu;
    }

    /** The CPU int buffer behind {@code buffer}, checked like {@link #floats}. */
    static CpuInts ints(CpuBackend owner, Backend.Ints buffer, String name, long needed) {
        CpuInts cpu = owned(owner, buffer, CpuInts.class, name);
        checkHolds(cpu.length, needed, name, "ints");
        return cpu;
    }

    /** {@code buffer} as {@code type}, checked to be a buffer of {@code owner} and open (root and backend). */
    private static <T extends Range> T owned(CpuBackend owner, Object buffer, Class<T> type, String name) {
        Objects.requireNonNull(buffer, name);
        if (!type.isInstance(buffer) || type.cast(buffer).root.owner != owner) {
            throw new IllegalArgumentException(name + " is not a buffer of this CPU backend");
        }
        T range = type.cast(buffer);
        if (range.root.closed || owner.isClosed()) {
            throw new IllegalStateException(name + " is closed");
        }
        return range;
    }

    private static void checkHolds(int elements, long needed, String name, String unit) {
        if (elements < needed) {
            throw new IllegalArgumentException(name + " has " + elements + " " + unit + " but needs " + needed);
        }
    }
}
