package dev.elbo4j.gpu;

import java.util.Objects;

import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.nn.Backend;

/**
 * The {@link Backend} buffer types over device memory: a root owns a {@link DeviceBuffer} allocation, a view
 * ({@code slice}) is a {@link DeviceBuffer} view of it. Each knows its backend, so that an operation can refuse a
 * buffer of another backend.
 */
final class CudaBuffers {

    private CudaBuffers() {
    }

    /** What the three element types share. */
    abstract static class Base implements Backend.Buffer {
        final CudaBackend owner;
        final DeviceBuffer device;
        final long size;
        private final boolean root;

        Base(CudaBackend owner, DeviceBuffer device, long size, boolean root) {
            this.owner = owner;
            this.device = device;
            this.size = size;
            this.root = root;
        }

        @Override
        public long size() {
            return size;
        }

        /** The device memory, checked open. */
        DeviceBuffer device(String name) {
            if (device.isClosed()) {
                throw new IllegalStateException(name + " (" + this + ") is closed");
            }
            return device;
        }

        /** A view's device memory: {@code count} elements of {@code elementBytes} from element {@code offset}. */
        DeviceBuffer view(long offset, long count, int elementBytes) {
            if (offset < 0 || count < 0 || offset > size - count) {
                throw new IllegalArgumentException("slice [" + offset + ", " + offset + " + " + count + ") is outside "
                        + this + " of " + size + " elements");
            }
            return device("the sliced buffer").slice(offset * elementBytes, count * elementBytes);
        }

        @Override
        public void close() {
            if (root) {
                device.close();
            }
        }

        @Override
        public String toString() {
            return getClass().getSimpleName() + "(" + size + " elements" + (root ? "" : ", view")
                    + (device.isClosed() ? ", closed" : "") + ")";
        }
    }

    /** float32 elements. */
    static final class Floats extends Base implements Backend.Floats {
        Floats(CudaBackend owner, DeviceBuffer device, long size, boolean root) {
            super(owner, device, size, root);
        }

        @Override
        public Backend.Floats slice(long offset, long count) {
            return new Floats(owner, view(offset, count, Float.BYTES), count, false);
        }
    }

    /** Unsigned 8-bit elements. */
    static final class Bytes extends Base implements Backend.Bytes {
        Bytes(CudaBackend owner, DeviceBuffer device, long size, boolean root) {
            super(owner, device, size, root);
        }

        @Override
        public Backend.Bytes slice(long offset, long count) {
            return new Bytes(owner, view(offset, count, 1), count, false);
        }
    }

    /** int32 elements. */
    static final class Ints extends Base implements Backend.Ints {
        Ints(CudaBackend owner, DeviceBuffer device, long size, boolean root) {
            super(owner, device, size, root);
        }
    }

    /** {@code buffer} as a buffer of {@code owner} of type {@code type}, or an exception naming it. */
    static <T extends Base> T of(CudaBackend owner, Backend.Buffer buffer, Class<T> type, String name) {
        Objects.requireNonNull(buffer, name);
        if (!type.isInstance(buffer) || ((Base) buffer).owner != owner) {
            throw new IllegalArgumentException(name + " (" + buffer + ") is not a " + type.getSimpleName()
                    + " buffer of this CUDA backend");
        }
        return type.cast(buffer);
    }
}
