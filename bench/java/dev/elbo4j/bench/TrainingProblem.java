package dev.elbo4j.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;

import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.data.Idx;
import dev.elbo4j.nn.Backend;
import dev.elbo4j.nn.Trainer;
import dev.elbo4j.nn.TrainingListener;
import dev.elbo4j.nn.TrainingOptions;
import dev.elbo4j.nn.Vae;
import dev.elbo4j.nn.VaeSpec;

/**
 * One training set-up the benchmarks measure, on any backend: a model ({@link #spec}), Fashion-MNIST's training
 * images resident in the backend, and a {@link Trainer} whose own step is run as it is and taken apart through a
 * {@link RecordingBackend}:
 * <ul>
 *   <li>{@link #step()}: the step {@code Trainer.train} runs (on a GPU with the graph mode: the replayed graph);</li>
 *   <li>{@link #stepAsWritten()}: the same step with every operation enqueued directly;</li>
 *   <li>{@link #gemms()}: only the step's GEMMs, with its arguments (the floor on this BLAS), compiled as the step
 *       is (on a GPU with the graph mode: replayed as a graph of their own);</li>
 *   <li>{@link #stepTimingGemms()}: the whole step replayed from its recorded operations, timing its GEMMs where
 *       they run (on the CPU: the rest of the step is what elbo4j writes itself: gather, bias and activation, latent
 *       layer, loss, totals, norm, Adam).</li>
 * </ul>
 * A step reads {@code B} rows of the epoch's order; after {@code floor(N / B)} steps the cursor is rewound, the
 * way an epoch's end does it, so the benchmarks can run any number of steps. The settings are the PyTorch example's
 * (ReLU, Bernoulli on the pixels as they are, Adam 1e-3) with the architecture and batch of the row.
 */
final class TrainingProblem implements AutoCloseable {
    /** Where Debian's {@code dataset-fashion-mnist} puts the files. */
    static final Path DEFAULT_DATA = Path.of("/usr/share/datasets/fashion-mnist");
    /** Fashion-MNIST's training set: an epoch is this many images whatever the data directory holds. */
    static final int EPOCH_IMAGES = 60_000;
    /** The model's seed: any value does; fixed so every run trains the same model. */
    static final long SEED = 1;

    private final RecordingBackend backend;
    private final Vae vae;
    private final Trainer trainer;
    private final Runnable compiled;
    private final Runnable asWritten;
    private final Runnable[] gemmCalls;
    private final Runnable gemmStep;
    private final int otherCount;
    private final List<RecordingBackend.Operation> operations;
    private final long gemmFlops;
    private final int stepsPerEpoch;
    private int stepsSinceRewind;

    /**
     * Builds the model {@code model} ("784-400-20": D, the encoder's hidden sizes, L) on {@code backend} and a trainer
     * of batch {@code batch} on {@code images}. For {@code steps}: lets the trainer run its first step (which loads
     * the epoch's shuffled order) and records the operations of the next; otherwise ready for {@link #epoch()}.
     */
    private TrainingProblem(Backend backend, String model, int batch, GemmPrecision precision, Idx.Images images,
                            boolean steps) {
        this.backend = new RecordingBackend(backend);
        VaeSpec spec = spec(model, precision);
        this.vae = Vae.create(spec, this.backend);
        TrainingOptions options = TrainingOptions.defaults().withBatchSize(batch);
        this.trainer = Trainer.create(vae, images, steps ? options.withProgressEvery(1) : options);
        this.compiled = this.backend.compiledStep();
        this.asWritten = this.backend.stepAsWritten();
        this.stepsPerEpoch = trainer.stepsPerEpoch();
        if (!steps) {
            gemmCalls = new Runnable[0];
            otherCount = 0;
            operations = List.of();
            gemmFlops = 0;
            gemmStep = null;
            return;
        }
        if (stepsPerEpoch < 3) {
            throw new IllegalArgumentException("batch " + batch + " leaves " + stepsPerEpoch
                    + " steps in an epoch of " + images.count() + " images; the benchmark needs 3");
        }
        // The trainer's own first step: it shuffles the epoch's order into backend memory, then stops.
        trainer.train(1, new TrainingListener() {
            @Override
            public void onProgress(TrainingListener.Progress progress) {
                trainer.requestStop();
            }
        });
        this.operations = this.backend.record(asWritten);
        stepsSinceRewind = 2;
        this.gemmCalls = calls(operations, RecordingBackend.Operation::isGemm);
        this.otherCount = operations.size() - gemmCalls.length;
        this.gemmFlops = operations.stream().mapToLong(RecordingBackend.Operation::flops).sum();
        // Compiled like the step (a CUDA graph on a GPU), so the floor pays the launch cost the step pays.
        this.gemmStep = this.backend.delegate().compileStep(this::runGemms);
    }

    /** A problem whose steps are run one at a time ({@link #step()}, {@link #gemms()}, ...). */
    static TrainingProblem forSteps(Backend backend, String model, int batch, GemmPrecision precision,
                                    Idx.Images images) {
        return new TrainingProblem(backend, model, batch, precision, images, true);
    }

    /** A problem trained a whole epoch at a time ({@link #epoch()}). */
    static TrainingProblem forEpochs(Backend backend, String model, int batch, GemmPrecision precision,
                                     Idx.Images images) {
        return new TrainingProblem(backend, model, batch, precision, images, false);
    }

    private static Runnable[] calls(List<RecordingBackend.Operation> operations,
                                    Predicate<RecordingBackend.Operation> which) {
        return operations.stream().filter(which).map(RecordingBackend.Operation::call).toArray(Runnable[]::new);
    }

    /**
     * The spec of a row: "784-400-20" is D = 784, one encoder hidden layer of 400 (mirrored in the decoder), L = 20;
     * "784-512-512-32" two hidden layers. The PyTorch example's other settings.
     *
     * @throws IllegalArgumentException when the text is not D-H...-L with positive sizes
     */
    static VaeSpec spec(String model, GemmPrecision precision) {
        int[] sizes;
        try {
            sizes = Arrays.stream(model.split("-")).mapToInt(Integer::parseInt).toArray();
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("a model is D-H1-...-L, e.g. 784-400-20, not '" + model + "'", e);
        }
        if (sizes.length < 2) {
            throw new IllegalArgumentException("a model is D-H1-...-L, e.g. 784-400-20, not '" + model + "'");
        }
        return VaeSpec.builder(sizes[0], sizes[sizes.length - 1])
                .encoderHidden(Arrays.copyOfRange(sizes, 1, sizes.length - 1))
                .precision(precision)
                .seed(SEED)
                .build();
    }

    /**
     * The training images of the data directory ({@code elbo4j.bench.data}, default {@link #DEFAULT_DATA}) as an
     * epoch of {@value #EPOCH_IMAGES}: Fashion-MNIST's training set as it is, or a subset of it (the GPU bundle
     * carries the first few thousand images, bench/gpu/prepare.sh) repeated in order to that count, so an epoch
     * does the same work either way.
     */
    static Idx.Images epochImages(Path directory) throws IOException {
        Idx.Images images = trainingImages(directory);
        return images.count() >= EPOCH_IMAGES ? images : repeated(images, EPOCH_IMAGES);
    }

    /** The images of {@code train-images-idx3-ubyte[.gz]} in {@code directory}, as many as it holds. */
    static Idx.Images trainingImages(Path directory) throws IOException {
        Path file = directory.resolve("train-images-idx3-ubyte.gz");
        if (!Files.isRegularFile(file)) {
            file = directory.resolve("train-images-idx3-ubyte");
        }
        if (!Files.isRegularFile(file)) {
            throw new IOException("no Fashion-MNIST training images (train-images-idx3-ubyte[.gz]) in " + directory
                    + ": install dataset-fashion-mnist or point -Delbo4j.bench.data / --data at a copy");
        }
        return Idx.readImages(file);
    }

    /** {@code images} repeated in order until there are {@code count}: row i is image {@code i mod n}. */
    static Idx.Images repeated(Idx.Images images, int count) {
        int size = images.pixelsPerImage();
        byte[] pixels = new byte[Math.multiplyExact(count, size)];
        for (int i = 0; i < count; i++) {
            System.arraycopy(images.pixels(), (i % images.count()) * size, pixels, i * size, size);
        }
        return new Idx.Images(count, images.rows(), images.columns(), pixels);
    }

    /** The data directory the benchmarks read: {@code -Delbo4j.bench.data}, else Debian's. */
    static Path dataDirectory() {
        String configured = System.getProperty("elbo4j.bench.data", "");
        return configured.isBlank() ? DEFAULT_DATA : Path.of(configured);
    }

    /** One training step as {@code Trainer.train} runs it. */
    void step() {
        rewindAtEpochEnd();
        compiled.run();
    }

    /** One training step with every operation enqueued directly. */
    void stepAsWritten() {
        rewindAtEpochEnd();
        asWritten.run();
    }

    /** The GEMMs of one step, with the step's shapes, buffers and settings, compiled as the step is. */
    void gemms() {
        gemmStep.run();
    }

    private void runGemms() {
        for (Runnable call : gemmCalls) {
            call.run();
        }
    }

    /**
     * One whole step replayed from its recorded operations (the step's own calls, in order: it trains as
     * {@link #stepAsWritten()} does), returning the nanoseconds its GEMMs took inside it, by the wall clock around
     * each call (on a GPU that is the launch, not the GPU time). The rest of the step's time is everything else as
     * it runs in the step, with the caches and thread hand-offs the GEMMs leave it. (Replaying the other operations
     * without the GEMMs would not: the pre-activations would take a bias more on every replay and the model would
     * diverge to NaN, whose paths cost differently.)
     */
    long stepTimingGemms() {
        return stepTimingEach(null);
    }

    /**
     * {@link #stepTimingGemms()}, also adding each operation's nanoseconds to {@code nanosPerOperation[i]} (indexed
     * as {@link #operations()}) when it is not null.
     */
    long stepTimingEach(long[] nanosPerOperation) {
        rewindAtEpochEnd();
        long gemmNanos = 0;
        for (int i = 0; i < operations.size(); i++) {
            RecordingBackend.Operation operation = operations.get(i);
            long start = System.nanoTime();
            operation.call().run();
            long nanos = System.nanoTime() - start;
            if (operation.isGemm()) {
                gemmNanos += nanos;
            }
            if (nanosPerOperation != null) {
                nanosPerOperation[i] += nanos;
            }
        }
        return gemmNanos;
    }

    /** The operations of one step, in the order it runs them. */
    List<RecordingBackend.Operation> operations() {
        return operations;
    }

    /**
     * Trains one more whole epoch through {@code Trainer.train} (its own order, progress reads and epoch end); only
     * for a problem made {@link #forEpochs}.
     */
    TrainingListener.EpochResult epoch() {
        TrainingListener.EpochResult[] result = new TrainingListener.EpochResult[1];
        trainer.train(trainer.epochsCompleted() + 1, new TrainingListener() {
            @Override
            public void onEpochEnd(TrainingListener.EpochResult end) {
                result[0] = end;
            }
        });
        return result[0];
    }

    /** The step's cursor is past the epoch's last full batch: rewind it as an epoch's start does. */
    private void rewindAtEpochEnd() {
        if (stepsSinceRewind == stepsPerEpoch) {
            backend.rewindCursor();
            stepsSinceRewind = 0;
        }
        stepsSinceRewind++;
    }

    /** The floating-point operations of one step's GEMMs. */
    long gemmFlops() {
        return gemmFlops;
    }

    /** The number of GEMM calls in a step. */
    int gemmCount() {
        return gemmCalls.length;
    }

    /** The backend's operations in a step besides its GEMMs. */
    int otherCount() {
        return otherCount;
    }

    /** The trainer. */
    Trainer trainer() {
        return trainer;
    }

    /** Releases the trainer and the model (not the backend). */
    @Override
    public void close() {
        trainer.close();
        vae.close();
    }
}
