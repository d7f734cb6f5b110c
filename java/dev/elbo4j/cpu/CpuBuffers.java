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

    /** A range of a float array. */
    static final class CpuFloats implements Backend.Floats {
        final Root root;
        final float[] array;
        final int offset;
        final int length;

        CpuFloats(Root root, float[] array, int offset, int length) {
            this.root = root;
            this.array = array;
            this.offset = offset;
            this.length = length;
        }

        @Override
        public long size() {
            return length;
        }

        @Override
        public Backend.Floats slice(long offset, long count) {
            checkRange(offset, count, length);
            return new CpuFloats(root, array, this.offset + (int) offset, (int) count);
        }

        @Override
        public void close() {
            if (offset == 0 && length == array.length) {
                root.closed = true;
            }
        }
    }

    /** A range of a byte array. */
    static final class CpuBytes implements Backend.Bytes {
        final Root root;
        final byte[] array;
        final int offset;
        final int length;

        CpuBytes(Root root, byte[] array, int offset, int length) {
            this.root = root;
            this.array = array;
            this.offset = offset;
            this.length = length;
        }

        @Override
        public long size() {
            return length;
        }

        @Override
        public Backend.Bytes slice(long offset, long count) {
            checkRange(offset, count, length);
            return new CpuBytes(root, array, this.offset + (int) offset, (int) count);
        }

        @Override
        public void close() {
            if (offset == 0 && length == array.length) {
                root.closed = true;
            }
        }
    }

    /** An int array. */
    static final class CpuInts implements Backend.Ints {
        final Root root;
        final int[] array;

        CpuInts(Root root, int[] array) {
            this.root = root;
            this.array = array;
        }

        @Override
        public long size() {
            return array.length;
        }

        @Override
        public void close() {
            root.closed = true;
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

    private static void checkRange(long offset, long count, int length) {
        if (offset < 0 || count < 0 || offset + count > length) {
            throw new IllegalArgumentException("slice [" + offset + ", " + (offset + count)
                    + ") is outside a buffer of " + length + " elements");
        }
    }

    /** The CPU buffer behind {@code buffer}, checked to belong to {@code owner}, be open and hold {@code needed}. */
    static CpuFloats floats(CpuBackend owner, Backend.Floats buffer, String name, long needed) {
        Objects.requireNonNull(buffer, name);
        if (!(buffer instanceof CpuFloats cpu) || cpu.root.owner != owner) {
            throw new IllegalArgumentException(name + " is not a buffer of this CPU backend");
        }
        if (cpu.root.closed || owner.isClosed()) {
            throw new IllegalStateException(name + " is closed");
        }
        if (cpu.length < needed) {
            throw new IllegalArgumentException(name + " has " + cpu.length + " floats but needs " + needed);
        }
        return cpu;
    }

    /** {@link #floats} for an optional buffer: null stays null. */
    static CpuFloats optionalFloats(CpuBackend owner, Backend.Floats buffer, String name, long needed) {
        return buffer == null ? null : floats(owner, buffer, name, needed);
    }

    /** The CPU byte buffer behind {@code buffer}, checked like {@link #floats}. */
    static CpuBytes bytes(CpuBackend owner, Backend.Bytes buffer, String name, long needed) {
        Objects.requireNonNull(buffer, name);
        if (!(buffer instanceof CpuBytes cpu) || cpu.root.owner != owner) {
            throw new IllegalArgumentException(name + " is not a buffer of this CPU backend");
        }
        if (cpu.root.closed || owner.isClosed()) {
            throw new IllegalStateException(name + " is closed");
        }
        if (cpu.length < needed) {
            throw new IllegalArgumentException(name + " has " + cpu.length + " bytes but needs " + needed);
        }
        return cpu;
    }

    /** The CPU int buffer behind {@code buffer}, checked like {@link #floats}. */
    static CpuInts ints(CpuBackend owner, Backend.Ints buffer, String name, long needed) {
        Objects.requireNonNull(buffer, name);
        if (!(buffer instanceof CpuInts cpu) || cpu.root.owner != owner) {
            throw new IllegalArgumentException(name + " is not a buffer of this CPU backend");
        }
        if (cpu.root.closed || owner.isClosed()) {
            throw new IllegalStateException(name + " is closed");
        }
        if (cpu.array.length < needed) {
            throw new IllegalArgumentException(name + " has " + cpu.array.length + " ints but needs " + needed);
        }
        return cpu;
    }
}
