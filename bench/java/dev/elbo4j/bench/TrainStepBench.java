package dev.elbo4j.bench;

import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.data.Idx;
import dev.elbo4j.gpu.CudaBackend;
import dev.elbo4j.gpu.CudaBackend.StepMode;
import dev.elbo4j.nn.Trainer;
import dev.elbo4j.nn.TrainingListener;
import dev.elbo4j.nn.TrainingOptions;
import dev.elbo4j.nn.Vae;
import dev.elbo4j.nn.VaeSpec;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
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
 * A whole training step of the VAE on the CUDA backend, as the {@link Trainer} runs it (gather from the resident
 * data set, encoder, latent sample, decoder, Bernoulli loss, backward, gradient norm, guarded Adam): {@code graph}
 * replays the step captured as a CUDA graph, {@code direct} enqueues its operations one by one
 * ({@link CudaBackend.StepMode}). The difference is the host's launch cost, which a graph pays once per step.
 *
 * <p>Models: the PyTorch example's 784-400-20 and a deeper 784-512-512-32 (decoder mirrored, ReLU, Bernoulli on the
 * pixels as they are, Adam 1e-3), at batch 128 and 4096, GEMMs in FP32 or TF32. Each invocation trains one epoch
 * of {@value #STEPS} steps over random images ({@code STEPS x batch} of them, resident on the device), so the
 * primary result is the wall time per step with the epoch's host work (its shuffled order, built and uploaded,
 * and one read of the step state at its end) spread over {@value #STEPS} steps; the trainer reads the state
 * nowhere else in the epoch. On the CPU emulator it runs (a check that everything works), slowly: not a measurement.
 *
 * <p>Not final: JMH generates subclasses of its state classes.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class TrainStepBench {
    /** Steps per invocation: one epoch. */
    static final int STEPS = 64;
    private static final long SEED = 0x5EED_57E9L;

    /** D-hidden...-L: the encoder's sizes (the decoder mirrors them). */
    @Param({"784-400-20", "784-512-512-32"})
    public String model;

    /** B. */
    @Param({"128", "4096"})
    public int batch;

    /** The GEMMs' precision. */
    @Param({"FP32", "TF32"})
    public GemmPrecision precision;

    private CudaBackend backend;
    private Vae vae;
    private Trainer trainer;
    private int epochs;
    private final TrainingListener quiet = new TrainingListener() {
    };

    @Setup(Level.Trial)
    public void setUp(BenchmarkParams run) {
        StepMode mode = run.getBenchmark().endsWith(".graph") ? StepMode.GRAPH : StepMode.DIRECT;
        int[] sizes = Arrays.stream(model.split("-")).mapToInt(Integer::parseInt).toArray();
        int dims = sizes[0];
        int side = (int) Math.round(Math.sqrt(dims));
        if (side * side != dims) {
            throw new IllegalArgumentException("model " + model + ": D = " + dims + " is not a square image");
        }
        VaeSpec spec = VaeSpec.builder(dims, sizes[sizes.length - 1])
                .encoderHidden(Arrays.copyOfRange(sizes, 1, sizes.length - 1)).precision(precision).seed(SEED)
                .build();
        int rows = STEPS * batch;
        byte[] pixels = new byte[rows * dims];
        new SplittableRandom(SEED).nextBytes(pixels);
        // The state is read at epoch ends only: no progress report or guard check inside an epoch.
        TrainingOptions options = TrainingOptions.defaults().withBatchSize(batch).withProgressEvery(STEPS)
                .withMaxSkippedInARow(STEPS);
        backend = CudaBackend.open(0, mode);
        vae = Vae.create(spec, backend);
        trainer = Trainer.create(vae, new Idx.Images(rows, side, side, pixels), options);
    }

    @Setup(Level.Iteration)
    public void makeCurrent() {
        backend.context().makeCurrent();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        trainer.close();
        vae.close();
        backend.close();
    }

    @Benchmark
    @OperationsPerInvocation(STEPS)
    public void graph() {
        trainer.train(++epochs, quiet);
    }

    @Benchmark
    @OperationsPerInvocation(STEPS)
    public void direct() {
        trainer.train(++epochs, quiet);
    }
}
