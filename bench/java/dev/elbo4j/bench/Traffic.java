package dev.elbo4j.bench;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What every benchmark here reports beside JMH's wall time per call, as JMH secondary results
 * ({@code calls}, {@code bytesMoved}, {@code gpuNanos}), summed over each measurement iteration:
 * {@link Report} divides them, so GPU time per call = gpuNanos / calls and achieved bandwidth in GB/s =
 * bytesMoved / gpuNanos (bytes per nanosecond), whatever JMH's aggregation over iterations.
 *
 * <p>{@code bytesMoved} counts the bytes the operation must move: every input read once and every output
 * written once, the same count for a fused kernel and its unfused sequence (the unfused sequence's extra
 * round trips through memory are what makes it slower, not a bigger count). Not final: JMH subclasses
 * its state classes.
 */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.EVENTS)
public class Traffic {
    /** Calls completed in this iteration. */
    public long calls;
    /** Bytes those calls had to move. */
    public double bytesMoved;
    /** GPU time of those calls from CUDA events, in nanoseconds; 0 for CPU benchmarks. */
    public double gpuNanos;

    @Setup(Level.Iteration)
    public void reset() {
        calls = 0;
        bytesMoved = 0;
        gpuNanos = 0;
    }

    /** Counts a timed batch of {@code count} GPU calls that took {@code millis} between its two CUDA events. */
    void addGpuBatch(int count, long bytesPerCall, float millis) {
        calls += count;
        bytesMoved += (double) count * bytesPerCall;
        gpuNanos += millis * 1e6;
    }

    /** Counts one CPU call (its time is JMH's primary result). */
    void addCpuCall(long bytesPerCall) {
        calls++;
        bytesMoved += bytesPerCall;
    }
}
