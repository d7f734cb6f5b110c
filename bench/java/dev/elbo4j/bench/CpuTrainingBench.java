package dev.elbo4j.bench;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.cuda.GemmPrecision;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A training step of the CPU backend on Fashion-MNIST ({@link TrainingProblem}), in milliseconds per step:
 * <ul>
 *   <li>{@code step}: the step {@code Trainer.train} runs (gather, forward, loss, backward, gradient norm, Adam);</li>
 *   <li>{@code gemms}: only that step's OpenBLAS sgemm calls, same shapes and buffers: the floor for this BLAS;</li>
 *   <li>{@code split}: the step again, replayed from its recorded operations with a clock around each GEMM: the
 *       secondary results {@code gemmNanos / calls} give the GEMMs' time inside the step, and the primary result
 *       minus that the rest (the loops elbo4j writes itself, with the caches and hand-offs of the real step).</li>
 * </ul>
 * {@code threads = 0} uses every processor (the backend's default); {@code dev.elbo4j.bench.TrainingComparison}
 * passes the count it gives PyTorch.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class CpuTrainingBench {
    /** D-H...-L: the PyTorch example's 784-400-20 and a deeper 784-512-512-32. */
    @Param({"784-400-20", "784-512-512-32"})
    public String model;

    /** B. */
    @Param({"128", "1024"})
    public int batch;

    /** Threads of the backend and of OpenBLAS; 0: as many as the machine has processors. */
    @Param("0")
    public int threads;

    private CpuBackend backend;
    private TrainingProblem problem;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        backend = threads == 0 ? CpuBackend.create() : CpuBackend.create(threads);
        problem = TrainingProblem.forSteps(backend, model, batch, GemmPrecision.FP32,
                TrainingProblem.epochImages(TrainingProblem.dataDirectory()));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (problem != null) {
            problem.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    @Benchmark
    public void step() {
        problem.step();
    }

    @Benchmark
    public void gemms() {
        problem.gemms();
    }

    @Benchmark
    public void split(GemmTime gemmTime) {
        gemmTime.gemmNanos += problem.stepTimingGemms();
        gemmTime.calls++;
    }

    /** {@code split}'s secondary results, summed over each iteration: steps run and their GEMMs' nanoseconds. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class GemmTime {
        public long calls;
        public double gemmNanos;

        @Setup(Level.Iteration)
        public void reset() {
            calls = 0;
            gemmNanos = 0;
        }
    }
}
