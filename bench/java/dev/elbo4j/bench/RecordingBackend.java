package dev.elbo4j.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.nn.Activation;
import dev.elbo4j.nn.AdamSettings;
import dev.elbo4j.nn.Backend;
import dev.elbo4j.nn.KlSchedule;
import dev.elbo4j.nn.StepStatus;
import dev.elbo4j.shape.DenseShape;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;
import dev.elbo4j.shape.SampleShape;

/**
 * A {@link Backend} that passes every call to another one and, on request, records the operations of one training
 * step so that parts of it can be replayed: the GEMMs alone (the floor a step cannot go below on that BLAS) and
 * everything else (the code elbo4j writes itself). It also keeps what the {@code Trainer} hands the backend: the
 * step as written ({@link #compileStep}'s argument) and the step state, so a benchmark can run the trainer's own
 * step and rewind the batch cursor when an epoch's order is used up.
 *
 * <p>Replays call the wrapped backend with the recorded arguments: the same buffers, shapes and settings, so a
 * full replay computes what the step computes (a test checks this bit for bit). Passing a call through costs one
 * virtual call and a field read, nothing per element, and allocates nothing unless recording.
 */
final class RecordingBackend implements Backend {

    /**
     * One recorded operation.
     *
     * @param name  the Backend method
     * @param flops for a GEMM, {@code 2 m n k}; 0 otherwise
     * @param call  runs it again on the wrapped backend with the same arguments
     */
    record Operation(String name, long flops, Runnable call) {
        boolean isGemm() {
            return flops > 0;
        }
    }

    /** What a step's probe sees: the host copies {@link AgreementFixture} writes. */
    interface Probe {
        /** After the batch is gathered into {@code x}. */
        void gathered(Floats x);

        /** When the step's gradients are complete (at the gradient norm). */
        void gradients(Floats gradients);
    }

    private final Backend delegate;
    private List<Operation> recording;
    private Probe probe;
    private Runnable stepAsWritten;
    private Runnable compiledStep;
    private StepState trainingState;

    RecordingBackend(Backend delegate) {
        this.delegate = Objects.requireNonNull(delegate, "delegate");
    }

    /** The wrapped backend. */
    Backend delegate() {
        return delegate;
    }

    /** The step exactly as the trainer wrote it (each operation enqueued directly, never a graph). */
    Runnable stepAsWritten() {
        return Objects.requireNonNull(stepAsWritten, "no step was compiled yet");
    }

    /** The step as the wrapped backend compiled it: what {@code Trainer.train} runs (a CUDA graph on a GPU). */
    Runnable compiledStep() {
        return Objects.requireNonNull(compiledStep, "no step was compiled yet");
    }

    /** Runs {@code step} once, returning the backend operations it made in order. */
    List<Operation> record(Runnable step) {
        recording = new ArrayList<>();
        try {
            step.run();
            return List.copyOf(recording);
        } finally {
            recording = null;
        }
    }

    /** Shows {@code probe} every step's batch and gradients from now on (copies to the host: no graph capture). */
    void watch(Probe probe) {
        this.probe = Objects.requireNonNull(probe, "probe");
    }

    /** Ends {@link #watch}. */
    void unwatch() {
        this.probe = null;
    }

    /** The trainer's step state now. */
    StepStatus trainingStatus() {
        return delegate.readState(trainingState());
    }

    /** Sets the trainer's batch cursor back to the start of the epoch's order (a GPU backend synchronizes). */
    void rewindCursor() {
        StepState state = trainingState();
        delegate.writeState(state, delegate.readState(state).atEpochStart(0));
    }

    private StepState trainingState() {
        return Objects.requireNonNull(trainingState, "no step state was allocated yet");
    }

    /**
     * Keeps {@code call} for a replay while recording. Each operation below passes its call here and then makes it
     * directly, rather than through {@code call.run()}: when nothing records, the lambda is never used, so the JIT
     * can drop its allocation and the pass-through stays allocation-free.
     */
    private void record(String name, long flops, Runnable call) {
        if (recording != null) {
            recording.add(new Operation(name, flops, call));
        }
    }

    // ------------------------------------------------------------------------------------------------ passed through

    @Override
    public Floats allocateFloats(long count) {
        return delegate.allocateFloats(count);
    }

    @Override
    public Bytes allocateBytes(long count) {
        return delegate.allocateBytes(count);
    }

    @Override
    public Ints allocateInts(long count) {
        return delegate.allocateInts(count);
    }

    @Override
    public void upload(float[] source, Floats destination) {
        delegate.upload(source, destination);
    }

    @Override
    public void upload(byte[] source, Bytes destination) {
        delegate.upload(source, destination);
    }

    @Override
    public void upload(int[] source, Ints destination) {
        delegate.upload(source, destination);
    }

    @Override
    public void download(Floats source, float[] destination) {
        delegate.download(source, destination);
    }

    /** Keeps the state the trainer allocates (the only one it allocates). */
    @Override
    public StepState allocateState() {
        StepState state = delegate.allocateState();
        trainingState = state;
        return state;
    }

    @Override
    public StepStatus readState(StepState state) {
        return delegate.readState(state);
    }

    @Override
    public void writeState(StepState state, StepStatus status) {
        delegate.writeState(state, status);
    }

    /** Keeps the step as written and as compiled. */
    @Override
    public Runnable compileStep(Runnable step) {
        stepAsWritten = step;
        compiledStep = delegate.compileStep(step);
        return compiledStep;
    }

    @Override
    public boolean supports(GemmPrecision precision) {
        return delegate.supports(precision);
    }

    @Override
    public String description() {
        return delegate.description();
    }

    @Override
    public void close() {
        delegate.close();
    }

    // ------------------------------------------------------------------------------------------------ a step's operations

    @Override
    public void gatherRows(Bytes dataset, int dims, Ints order, StepState state, int rows, boolean binarize,
                           long seed, Floats x) {
        record("gatherRows", 0, () -> delegate.gatherRows(dataset, dims, order, state, rows, binarize, seed, x));
        delegate.gatherRows(dataset, dims, order, state, rows, binarize, seed, x);
        if (probe != null) {
            probe.gathered(x);
        }
    }

    @Override
    public void gemm(GemmPrecision precision, boolean transA, boolean transB, int m, int n, int k, float alpha,
                     Floats a, int lda, Floats b, int ldb, float beta, Floats c, int ldc) {
        record("gemm", 2L * m * n * k,
                () -> delegate.gemm(precision, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
        delegate.gemm(precision, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    @Override
    public void biasActivation(DenseShape shape, Floats bias, Activation activation, Floats preActivation,
                               Floats output) {
        record("biasActivation", 0, () -> delegate.biasActivation(shape, bias, activation, preActivation, output));
        delegate.biasActivation(shape, bias, activation, preActivation, output);
    }

    @Override
    public void activationBackward(DenseShape shape, Activation activation, Floats preActivation, Floats dOutput,
                                   Floats dPreActivation) {
        record("activationBackward", 0,
                () -> delegate.activationBackward(shape, activation, preActivation, dOutput, dPreActivation));
        delegate.activationBackward(shape, activation, preActivation, dOutput, dPreActivation);
    }

    @Override
    public void biasGradient(DenseShape shape, Floats dPreActivation, Floats dBias) {
        record("biasGradient", 0, () -> delegate.biasGradient(shape, dPreActivation, dBias));
        delegate.biasGradient(shape, dPreActivation, dBias);
    }

    @Override
    public void latentForward(LatentShape shape, Floats muLogvar, long seed, StepState state, Floats z, Floats kl,
                              Floats logRatio) {
        record("latentForward", 0, () -> delegate.latentForward(shape, muLogvar, seed, state, z, kl, logRatio));
        delegate.latentForward(shape, muLogvar, seed, state, z, kl, logRatio);
    }

    @Override
    public void latentBackward(LatentShape shape, Floats muLogvar, Floats dz, long seed, StepState state,
                               Floats klWeights, Floats dMuLogvar) {
        record("latentBackward", 0,
                () -> delegate.latentBackward(shape, muLogvar, dz, seed, state, klWeights, dMuLogvar));
        delegate.latentBackward(shape, muLogvar, dz, seed, state, klWeights, dMuLogvar);
    }

    @Override
    public void bernoulliLoss(LikelihoodShape shape, Floats logits, Floats x, float gradScale, Floats logProb,
                              Floats grad) {
        record("bernoulliLoss", 0, () -> delegate.bernoulliLoss(shape, logits, x, gradScale, logProb, grad));
        delegate.bernoulliLoss(shape, logits, x, gradScale, logProb, grad);
    }

    @Override
    public void gaussianLoss(LikelihoodShape shape, Floats mean, Floats x, LogVariance logVariance, float gradScale,
                             Floats logProb, Floats gradMean, Floats gradLogVar) {
        record("gaussianLoss", 0, () -> delegate.gaussianLoss(shape, mean, x, logVariance, gradScale, logProb,
                gradMean, gradLogVar));
        delegate.gaussianLoss(shape, mean, x, logVariance, gradScale, logProb, gradMean, gradLogVar);
    }

    @Override
    public void lossTotals(StepState state, KlSchedule schedule, LatentShape shape, Floats muLogvar, Floats logProb,
                           Floats kl, Floats klWeights) {
        record("lossTotals", 0,
                () -> delegate.lossTotals(state, schedule, shape, muLogvar, logProb, kl, klWeights));
        delegate.lossTotals(state, schedule, shape, muLogvar, logProb, kl, klWeights);
    }

    @Override
    public void iwaeBound(SampleShape shape, Floats logPx, Floats logRatio, Floats bound) {
        record("iwaeBound", 0, () -> delegate.iwaeBound(shape, logPx, logRatio, bound));
        delegate.iwaeBound(shape, logPx, logRatio, bound);
    }

    @Override
    public void gradientNorm(Floats gradients, StepState state) {
        if (probe != null) {
            probe.gradients(gradients);
        }
        record("gradientNorm", 0, () -> delegate.gradientNorm(gradients, state));
        delegate.gradientNorm(gradients, state);
    }

    @Override
    public void adam(AdamSettings settings, StepState state, Floats parameters, Floats gradients,
                     Floats firstMoments, Floats secondMoments) {
        record("adam", 0,
                () -> delegate.adam(settings, state, parameters, gradients, firstMoments, secondMoments));
        delegate.adam(settings, state, parameters, gradients, firstMoments, secondMoments);
    }

    @Override
    public void advance(StepState state, int rows) {
        record("advance", 0, () -> delegate.advance(state, rows));
        delegate.advance(state, rows);
    }
}
