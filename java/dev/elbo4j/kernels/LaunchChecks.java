package dev.elbo4j.kernels;

import java.util.Objects;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.shape.SampleShape;

/**
 * The argument checks every launcher makes before it launches anything: dimensions, buffer sizes against the
 * shape, open buffers of the launcher's context, outputs that do not overlap inputs (or alias them exactly where
 * an operation works in place). Every message names the
 * argument, the shape it needs and what it got, so a wrong call is fixed from the message alone.
 */
final class LaunchChecks {
    /** Room above every index for the kernels' int loop steps (a tile or a block stride: 256 at most), with margin. */
    static final int INDEX_HEADROOM = 1024;
    /**
     * The kernels index elements with 32-bit ints: no tensor may hold more. The limit stays {@link #INDEX_HEADROOM}
     * below {@code Integer.MAX_VALUE} because a kernel's int loop counter steps one tile or one block stride past
     * the last index before its loop test fails, and that step must not overflow (signed overflow is undefined on
     * the GPU: a wrapped counter would pass the test and index far outside the tensor).
     */
    static final long MAX_ELEMENTS = Integer.MAX_VALUE - INDEX_HEADROOM;

    private LaunchChecks() {
    }

    /** Throws unless {@code value} is finite. */
    static void finite(float value, String name) {
        if (!Float.isFinite(value)) {
            throw new IllegalArgumentException(name + " must be finite but is " + value);
        }
    }

    /**
     * {@code elements}, the exact element count of a tensor (from its shape record), checked against the kernels'
     * 32-bit indices.
     *
     * @param what the tensor and its shape, e.g. "logits (K*B x D) = 2 x 3 x 784"
     */
    static long indexable(String what, long elements) {
        if (elements > MAX_ELEMENTS) {
            throw new IllegalArgumentException(what + " has " + elements + " elements, more than " + MAX_ELEMENTS
                    + ": the kernels index with 32-bit ints");
        }
        return elements;
    }

    /**
     * {@code count}, the length of a flat buffer (the parameters, the gradients), checked to be at least 1 and
     * within the kernels' 32-bit indices.
     *
     * @param what the buffer, e.g. "parameter"
     */
    static long flatCount(String what, long count) {
        if (count < 1) {
            throw new IllegalArgumentException("the " + what + " count must be at least 1 but is " + count);
        }
        return indexable(what + "s", count);
    }

    /** Throws unless a per-row operation (K = 1) got a shape of one sample per row. */
    static void oneSamplePerRow(SampleShape rows, String operation) {
        if (rows.samples() != 1) {
            throw new IllegalArgumentException(operation + " takes one value per row (K = 1), but the shape is " + rows
                    + "; use SampleShape.of(B)");
        }
    }

    /** Throws unless the stream is null (the default stream) or an open stream of {@code context}. */
    static void stream(CudaStream stream, CudaContext context) {
        if (stream == null) {
            return;
        }
        if (stream.isClosed()) {
            throw new IllegalStateException("stream " + stream + " is closed");
        }
        if (stream.context() != context) {
            throw new IllegalArgumentException("stream " + stream + " belongs to " + stream.context()
                    + ", not to the kernels' " + context);
        }
    }

    /** Throws unless {@code state} is given, open and of {@code context}. */
    static void state(DeviceStepState state, CudaContext context) {
        Objects.requireNonNull(state, "state");
        state.checkUsableIn(context);
    }

    /**
     * Checks a required buffer: not null, open, of {@code context}, starting at a multiple of {@code elementBytes}
     * bytes, and holding at least {@code elements} elements of {@code elementBytes} bytes.
     *
     * @param name  the argument's name ("logits")
     * @param shape its shape in symbols and numbers ("K x B x D = 1 x 4 x 784")
     */
    static void buffer(DeviceBuffer buffer, String name, String shape, long elements, int elementBytes,
                       CudaContext context) {
        Objects.requireNonNull(buffer, name);
        if (buffer.isClosed()) {
            throw new IllegalStateException(name + " (" + buffer + ") is closed");
        }
        if (buffer.context() != context) {
            throw new IllegalArgumentException(name + " belongs to " + buffer.context() + ", not to the kernels' "
                    + context);
        }
        if (elementBytes > 1 && !buffer.isAligned(elementBytes)) {
            throw new IllegalArgumentException(name + " (" + buffer + ") starts at an address that is not a multiple"
                    + " of " + elementBytes + " bytes: it holds " + elementBytes + "-byte elements and must start on a"
                    + " whole element (slice at element offsets, e.g. with sliceFloats for float32)");
        }
        long needed = elements * elementBytes;
        if (buffer.byteSize() < needed) {
            throw new IllegalArgumentException(name + " holds " + buffer.byteSize() + " bytes but " + shape + " needs "
                    + (elementBytes == 1 ? needed + " bytes"
                            : elements + " elements of " + elementBytes + " bytes (" + needed + " bytes)"));
        }
    }

    /** {@link #buffer} for float32 tensors. */
    static void floats(DeviceBuffer buffer, String name, String shape, long elements, CudaContext context) {
        buffer(buffer, name, shape, elements, Float.BYTES, context);
    }

    /** {@link #floats} when the buffer is given; nothing when it is null (an optional output). */
    static void optionalFloats(DeviceBuffer buffer, String name, String shape, long elements, CudaContext context) {
        if (buffer != null) {
            floats(buffer, name, shape, elements, context);
        }
    }

    /**
     * Checks a workspace of {@code doubles} doubles: open, of {@code context}, large enough, 8-byte aligned.
     *
     * @param what what the workspace is for, e.g. "bias gradient partials (4 chunks x 400 columns)"
     */
    static void doubles(DeviceBuffer workspace, String what, long doubles, CudaContext context) {
        buffer(workspace, "workspace", what, doubles, Double.BYTES, context);
    }

    /** Whether two buffers start at the same device address (an in-place operation). */
    static boolean sameStart(DeviceBuffer a, DeviceBuffer b) {
        return a.address() == b.address();
    }

    /**
     * Throws when the first {@code aBytes} bytes of {@code a} and the first {@code bBytes} of {@code b} share
     * memory (an output written over an input, or two outputs over each other). Null buffers never overlap.
     */
    static void disjoint(DeviceBuffer a, long aBytes, String aName, DeviceBuffer b, long bBytes, String bName) {
        if (a == null || b == null) {
            return;
        }
        long aStart = a.address();
        long bStart = b.address();
        if (aStart < bStart + bBytes && bStart < aStart + aBytes) {
            throw new IllegalArgumentException(aName + " and " + bName + " overlap in device memory ("
                    + aName + " bytes [0x" + Long.toHexString(aStart) + ", +" + aBytes + "), " + bName
                    + " bytes [0x" + Long.toHexString(bStart) + ", +" + bBytes + ")): the kernel reads one while it writes"
                    + " the other");
        }
    }

    /** {@code ceil(work / perBlock)} as a grid size. */
    static int blocks(long work, int perBlock) {
        long blocks = (work + perBlock - 1) / perBlock;
        if (blocks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(work + " work items need " + blocks + " blocks, more than a grid holds");
        }
        return (int) Math.max(1, blocks);
    }

    /** "2 x 3 x 4". */
    static String render(int... dims) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < dims.length; i++) {
            text.append(i == 0 ? "" : " x ").append(dims[i]);
        }
        return text.toString();
    }
}
