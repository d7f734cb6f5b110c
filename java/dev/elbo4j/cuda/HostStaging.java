package dev.elbo4j.cuda;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Page-locked host memory that stages the asynchronous copies between Java arrays and device buffers on one
 * stream (the driver can only copy asynchronously from and to pinned memory, and a Java array may move or be
 * reused). An upload copies the array into a pinned block before the copy is enqueued, so the caller may reuse
 * the array at once; a download lands in a pinned block and is copied into its array when the stream is next
 * synchronized. Blocks are kept for reuse by later copies and freed when the stream (or context) is closed.
 */
// FFM restricted method: the pinned block's address is reinterpreted as a segment of its size.
@SuppressWarnings("restricted")
final class HostStaging {
    /** A block in flight: {@code copyBack} is the download's target array, or null for an upload. */
    private record InFlight(MemorySegment block, MemorySegment copyBack) {
    }

    private final DriverApi driver;
    private final List<InFlight> inFlight = new ArrayList<>();
    private final List<MemorySegment> spare = new ArrayList<>();

    HostStaging(DriverApi driver) {
        this.driver = driver;
    }

    /** A pinned block holding a copy of {@code source}, in flight until the next synchronization. */
    synchronized MemorySegment stageUpload(MemorySegment source) {
        MemorySegment block = take(source.byteSize());
        MemorySegment.copy(source, 0, block, 0, source.byteSize());
        inFlight.add(new InFlight(block, null));
        return block.asSlice(0, source.byteSize());
    }

    /** A pinned block the device writes into; copied into {@code target} at the next synchronization. */
    synchronized MemorySegment stageDownload(MemorySegment target) {
        MemorySegment block = take(target.byteSize());
        inFlight.add(new InFlight(block, target));
        return block.asSlice(0, target.byteSize());
    }

    /** The most recent staged copy could not be enqueued: its block goes back unused, with no copy-back. */
    synchronized void cancelLast() {
        spare.add(inFlight.removeLast().block());
    }

    /** The stream finished every copy enqueued so far: fill the download targets and recycle the blocks. */
    synchronized void completed() {
        for (InFlight copy : inFlight) {
            if (copy.copyBack() != null) {
                MemorySegment.copy(copy.block(), 0, copy.copyBack(), 0, copy.copyBack().byteSize());
            }
            spare.add(copy.block());
        }
        inFlight.clear();
    }

    /** Synchronization failed (the context is broken): recycle the blocks without touching the targets. */
    synchronized void abandoned() {
        for (InFlight copy : inFlight) {
            spare.add(copy.block());
        }
        inFlight.clear();
    }

    /**
     * Frees every block; the owning context must be current and the stream idle. Returns the first failure
     * instead of throwing it so that the caller can go on releasing.
     */
    synchronized CudaException release() {
        abandoned();
        CudaException failure = null;
        for (MemorySegment block : spare) {
            int result = driver.memFreeHost(block);
            if (result != DriverApi.CUDA_SUCCESS && failure == null) {
                failure = driver.error(result, "cuMemFreeHost", "freeing a " + block.byteSize() + "-byte staging block");
            }
        }
        spare.clear();
        return failure;
    }

    /** The smallest spare block that fits, or a new pinned block. */
    private MemorySegment take(long bytes) {
        int best = -1;
        for (int i = 0; i < spare.size(); i++) {
            long size = spare.get(i).byteSize();
            if (size >= bytes && (best < 0 || size < spare.get(best).byteSize())) {
                best = i;
            }
        }
        if (best >= 0) {
            return spare.remove(best);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pointer = arena.allocate(JAVA_LONG);
            driver.check(driver.memAllocHost(pointer, bytes), "cuMemAllocHost_v2",
                    "staging " + bytes + " bytes for an asynchronous copy");
            return MemorySegment.ofAddress(pointer.get(JAVA_LONG, 0)).reinterpret(bytes);
        }
    }
}
