package dev.elbo4j.bench;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

import dev.elbo4j.cuda.CudaEvent;
import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.gpu.CudaBackend;
import dev.elbo4j.nn.TrainingListener;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * A training step of the CUDA backend on Fashion-MNIST ({@link TrainingProblem}), milliseconds per step:
 * <ul>
 *   <li>{@code graph}: the step {@code Trainer.train} runs, replayed as one CUDA graph;</li>
 *   <li>{@code direct}: the same step with every operation launched directly (dozens of launches);</li>
 *   <li>{@code gemms}: only the step's cuBLAS GEMMs, same shapes and buffers, replayed as a graph: the floor;</li>
 *   <li>{@code epoch}: one whole epoch through {@code Trainer.train} (single shot, seconds), its progress reads
 *       and epoch end included.</li>
 * </ul>
 * A step invocation enqueues {@value #STEPS} steps between two CUDA events on the backend's stream and waits once:
 * JMH's time is the wall time per step (launches and one synchronization per {@value #STEPS} steps), and the
 * secondary results {@code gpuNanos / calls} the GPU time per step. {@code precision}: the GEMMs' (TF32 through
 * cuBLAS's tensor cores; the loss kernels compute in FP32 either way).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 4, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class CudaTrainingBench {
    /** Steps between two synchronizations. */
    static final int STEPS = 32;

    /** D-H...-L. */
    @Param({"784-400-20", "784-512-512-32"})
    public String model;

    /** B. */
    @Param({"128", "4096"})
    public int batch;

    /** The GEMMs' precision: FP32 or TF32. */
    @Param({"FP32", "TF32"})
    public String precision;

    private CudaBackend backend;
    private TrainingProblem problem;
    private CudaEvent start;
    private CudaEvent stop;

    @Setup(Level.Trial)
    public void setUp(BenchmarkParams run) throws IOException {
        backend = CudaBackend.open(0, CudaBackend.StepMode.GRAPH);
        GemmPrecision gemmPrecision = GemmPrecision.valueOf(precision);
        var images = TrainingProblem.epochImages(TrainingProblem.dataDirectory());
        problem = run.getBenchmark().endsWith(".epoch")
                ? TrainingProblem.forEpochs(backend, model, batch, gemmPrecision, images)
                : TrainingProblem.forSteps(backend, model, batch, gemmPrecision, images);
        start = backend.context().createEvent();
        stop = backend.context().createEvent();
    }

    /** JMH may run iterations on another thread than the setup: the context must be current there. */
    @Setup(Level.Iteration)
    public void makeCurrent() {
        backend.context().makeCurrent();
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

    private void timeSteps(Traffic traffic, Runnable step) {
        start.record(backend.stream());
        for (int i = 0; i < STEPS; i++) {
            step.run();
        }
        stop.record(backend.stream());
        stop.synchronize();
        traffic.addGpuBatch(STEPS, 0, stop.elapsedMillisSince(start));
    }

    @Benchmark
    @OperationsPerInvocation(STEPS)
    public void graph(Traffic traffic) {
        timeSteps(traffic, problem::step);
    }

    @Benchmark
    @OperationsPerInvocation(STEPS)
    public void direct(Traffic traffic) {
        timeSteps(traffic, problem::stepAsWritten);
    }

    @Benchmark
    @OperationsPerInvocation(STEPS)
    public void gemms(Traffic traffic) {
        timeSteps(traffic, problem::gemms);
    }

    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @Warmup(iterations = 1)
    @Measurement(iterations = 3)
    public TrainingListener.EpochResult epoch() {
        return problem.epoch();
    }
}
