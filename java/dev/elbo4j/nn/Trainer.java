package dev.elbo4j.nn;

import java.util.Objects;
import java.util.SplittableRandom;

import dev.elbo4j.data.Idx;
import dev.elbo4j.nn.Backend.Bytes;
import dev.elbo4j.nn.Backend.Floats;
import dev.elbo4j.nn.Backend.Ints;
import dev.elbo4j.nn.Backend.StepState;

/**
 * Trains a {@link Vae} on a data set of 8-bit images that it keeps resident in backend memory. Each step gathers
 * its batch there by index from the epoch's shuffled order (an epoch copies nothing to the backend but that
 * order), runs the forward and backward passes, and applies a guarded Adam step, all without the host: the
 * trainer reads the step state only to report progress, check the non-finite guard, and end an epoch.
 *
 * <p>Deterministic: the initialization, the data order of each epoch (a function of the spec's seed and the
 * epoch), the noise (Philox at the step counter) and the backend's reductions are all fixed by the seed, so two
 * runs of the same spec on the same backend configuration (for the CPU: the same thread count) give the same bits,
 * and a run resumed from {@link #state()} there continues exactly as one never interrupted.
 *
 * <p>Not thread-safe, except {@link #requestStop()}, which another thread (a signal handler) may call.
 */
public final class Trainer implements AutoCloseable {
    /** Mixed into the spec's seed for the data order. */
    private static final long ORDER_STREAM = 0x0DDE_12ED_0000_0002L;

    private final Vae vae;
    private final Backend backend;
    private final TrainingOptions options;
    private final int dims;
    private final int rows;
    private final int stepsPerEpoch;
    private final Bytes data;
    private final Ints order;
    private final int[] permutation;
    private final Floats gradients;
    private final Floats firstMoments;
    private final Floats secondMoments;
    private final StepState state;
    private final Workspace work;
    private final Runnable step;
    private final boolean binarizeDynamically;
    private int epoch;
    private int stepInEpoch;
    private boolean orderLoaded;
    private volatile boolean stopRequested;

    private Trainer(Vae vae, Idx.Images train, TrainingOptions options, TrainingState resumed) {
        this.vae = Objects.requireNonNull(vae, "vae");
        vae.checkOpen();
        this.options = Objects.requireNonNull(options, "options");
        Objects.requireNonNull(train, "train");
        this.backend = vae.backend();
        VaeSpec spec = vae.spec();
        this.dims = train.pixelsPerImage();
        if (dims != spec.inputs()) {
            throw new IllegalArgumentException("the images have " + train.rows() + " x " + train.columns() + " = "
                    + dims + " pixels but the model expects D = " + spec.inputs());
        }
        this.rows = train.count();
        if (rows < options.batchSize()) {
            throw new IllegalArgumentException("the data set has " + rows + " images, fewer than one batch of "
                    + options.batchSize());
        }
        this.stepsPerEpoch = rows / options.batchSize();
        this.binarizeDynamically = spec.binarization() == BinarizationMode.DYNAMIC;
        long flat = vae.layout().totalFloats();
        this.data = backend.allocateBytes(train.pixels().length);
        this.order = backend.allocateInts(rows);
        this.gradients = backend.allocateFloats(flat);
        this.firstMoments = backend.allocateFloats(flat);
        this.secondMoments = backend.allocateFloats(flat);
        this.state = backend.allocateState();
        this.work = new Workspace(backend, vae.layout(), options.batchSize(), spec.samples(), true);
        this.permutation = new int[rows];
        backend.upload(Pixels.prepare(train.pixels(), spec), data);
        vae.bindGradients(gradients);
        if (resumed != null) {
            restore(resumed, flat);
        }
        this.step = backend.compileStep(this::runStep);
    }

    /** A trainer of {@code vae} on {@code train} from the start (Adam's moments zero, step 0). */
    public static Trainer create(Vae vae, Idx.Images train, TrainingOptions options) {
        return new Trainer(vae, train, options, null);
    }

    /**
     * A trainer that continues the run that {@code state} (with the model's parameters at that point) describes.
     *
     * @throws IllegalArgumentException when the state does not fit the model, the data or the options
     */
    public static Trainer resume(Vae vae, Idx.Images train, TrainingOptions options, TrainingState state) {
        return new Trainer(vae, train, options, Objects.requireNonNull(state, "state"));
    }

    private void restore(TrainingState resumed, long flat) {
        if (resumed.batchSize() != options.batchSize()) {
            throw new IllegalArgumentException("the run was trained with batch size " + resumed.batchSize()
                    + "; resuming it with " + options.batchSize() + " would not continue it");
        }
        if (resumed.firstMoments().length != flat) {
            throw new IllegalArgumentException("the optimizer moments have " + resumed.firstMoments().length
                    + " floats but the model's layout has " + flat);
        }
        if (resumed.stepInEpoch() > stepsPerEpoch) {
            throw new IllegalArgumentException("the run stopped at step " + resumed.stepInEpoch() + " of an epoch of "
                    + stepsPerEpoch + " steps: it was trained on another data set");
        }
        backend.upload(resumed.firstMoments(), firstMoments);
        backend.upload(resumed.secondMoments(), secondMoments);
        backend.writeState(state, resumed.status());
        epoch = resumed.epoch();
        stepInEpoch = resumed.stepInEpoch();
        if (stepInEpoch == stepsPerEpoch) {
            epoch++;
            stepInEpoch = 0;
        } else if (stepInEpoch > 0) {
            loadOrder(epoch);
            orderLoaded = true;
        }
    }

    /** Steps in one epoch: {@code floor(N / B)}. */
    public int stepsPerEpoch() {
        return stepsPerEpoch;
    }

    /** Epochs completed so far. */
    public int epochsCompleted() {
        return epoch;
    }

    /**
     * Steps of the current epoch run so far: 0 at an epoch's start; after {@link #train} stopped early, the steps of
     * the interrupted epoch (what {@link #state()} records, without copying the optimizer's moments).
     */
    public int stepInEpoch() {
        return stepInEpoch;
    }

    /** The model being trained. */
    public Vae vae() {
        return vae;
    }

    /** Asks {@link #train} to return after the step it is running (safe from any thread). */
    public void requestStop() {
        stopRequested = true;
    }

    /** The step state now. */
    public StepStatus status() {
        return backend.readState(state);
    }

    /**
     * Trains until {@code totalEpochs} epochs are complete (counting those before a resume) or {@link #requestStop()}
     * is called.
     *
     * @return true when the epochs are complete, false when stopped early (the state is then mid-epoch)
     * @throws TrainingDivergedException when the non-finite guard's limit is reached
     */
    public boolean train(int totalEpochs, TrainingListener listener) {
        Objects.requireNonNull(listener, "listener");
        if (totalEpochs < 0) {
            throw new IllegalArgumentException("epochs must be at least 0 but is " + totalEpochs);
        }
        int checkEvery = Math.min(options.progressEverySteps(), options.maxSkippedInARow());
        stopRequested = false;
        while (epoch < totalEpochs) {
            if (!orderLoaded) {
                loadOrder(epoch);
                backend.writeState(state, backend.readState(state).atEpochStart(0));
                orderLoaded = true;
            }
            long epochStart = System.nanoTime();
            long reportStart = epochStart;
            int stepsRun = 0;
            int reportSteps = 0;
            while (stepInEpoch < stepsPerEpoch) {
                if (stopRequested) {
                    return false;
                }
                step.run();
                stepInEpoch++;
                stepsRun++;
                reportSteps++;
                boolean progress = stepInEpoch % options.progressEverySteps() == 0;
                if (progress || stepInEpoch % checkEvery == 0 || stepInEpoch == stepsPerEpoch) {
                    StepStatus status = backend.readState(state);
                    if (status.skippedInARow() >= options.maxSkippedInARow()) {
                        throw new TrainingDivergedException(status, options.maxSkippedInARow());
                    }
                    if (progress) {
                        long now = System.nanoTime();
                        listener.onProgress(new TrainingListener.Progress(epoch + 1, stepInEpoch, stepsPerEpoch,
                                status, reportSteps / ((now - reportStart) / 1e9)));
                        reportStart = now;
                        reportSteps = 0;
                    }
                }
            }
            double seconds = (System.nanoTime() - epochStart) / 1e9;
            StepStatus status = backend.readState(state);
            epoch++;
            stepInEpoch = 0;
            orderLoaded = false;
            listener.onEpochEnd(new TrainingListener.EpochResult(epoch, stepsRun, status.meanLoss(),
                    status.meanElbo(), status.meanKl(), seconds, stepsRun / seconds, status.skipped(), status));
        }
        return true;
    }

    /** One step: gather, forward, loss, backward, guarded Adam, advance. Only backend operations. */
    private void runStep() {
        VaeSpec spec = vae.spec();
        backend.gatherRows(data, dims, order, state, options.batchSize(), binarizeDynamically, spec.seed(), work.x);
        vae.forwardBackward(work, state, gradients);
        backend.gradientNorm(gradients, state);
        backend.adam(options.adam(), state, vae.parameterBuffer(), gradients, firstMoments, secondMoments);
        backend.advance(state, options.batchSize());
    }

    /** The shuffled order of epoch {@code e} into backend memory. */
    private void loadOrder(int e) {
        for (int i = 0; i < rows; i++) {
            permutation[i] = i;
        }
        SplittableRandom random = new SplittableRandom((vae.spec().seed() ^ ORDER_STREAM) + 0x9E37_79B9_7F4A_7C15L * e);
        for (int i = rows - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = permutation[i];
            permutation[i] = permutation[j];
            permutation[j] = swap;
        }
        backend.upload(permutation, order);
    }

    /** What a checkpoint needs besides the parameters to continue this run exactly. */
    public TrainingState state() {
        long flat = vae.layout().totalFloats();
        float[] m = new float[Math.toIntExact(flat)];
        float[] v = new float[Math.toIntExact(flat)];
        backend.download(firstMoments, m);
        backend.download(secondMoments, v);
        return new TrainingState(epoch, stepInEpoch, options.batchSize(), backend.readState(state), m, v);
    }

    /** Releases the resident data, the optimizer's buffers and the workspace (not the model). */
    @Override
    public void close() {
        work.close();
        state.close();
        for (var buffer : new Backend.Buffer[] {data, order, gradients, firstMoments, secondMoments}) {
            buffer.close();
        }
    }
}
