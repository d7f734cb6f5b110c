package dev.elbo4j.gpu;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import dev.elbo4j.cuda.Cublas;
import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaGraph;
import dev.elbo4j.cuda.CudaRuntime;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.cuda.DeviceProperties;
import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.kernels.ActivationKernels;
import dev.elbo4j.kernels.AdamKernels;
import dev.elbo4j.kernels.BernoulliKernels;
import dev.elbo4j.kernels.BiasGradientKernels;
import dev.elbo4j.kernels.DeviceStepState;
import dev.elbo4j.kernels.GatherKernels;
import dev.elbo4j.kernels.GaussianKernels;
import dev.elbo4j.kernels.GradientNormKernels;
import dev.elbo4j.kernels.IwaeKernels;
import dev.elbo4j.kernels.LatentKernels;
import dev.elbo4j.kernels.LossTotalsKernels;
import dev.elbo4j.kernels.TargetFormat;
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
 * The {@link Backend} on a CUDA device: cuBLAS for the GEMMs ({@link Cublas}, row-major; FP32, or TF32/BF16 through
 * cublasGemmEx), the fused ELBO kernels and the training kernels of {@code dev.elbo4j.kernels} for everything else,
 * the step's scalars in a {@link DeviceStepState}, and every operation enqueued on one stream of the backend.
 *
 * <h2>A step as a CUDA graph</h2>
 * With {@link StepMode#GRAPH} (the default), {@link #compileStep} runs the step directly once (which sizes the
 * backend's scratch memory and lets cuBLAS make any lazy allocation outside a capture), captures it into a CUDA
 * graph on its second run, and from then on replays the graph: one launch per step instead of dozens. Replays read
 * everything that changes from step to step (the noise offset, the batch cursor, the KL weights, Adam's
 * scalars and the guard's decision) from the step state on the device, so the graph and the direct path compute the
 * same bits. {@link StepMode#DIRECT} runs every step directly (for comparison and debugging).
 *
 * <h2>Memory</h2>
 * Buffers are device memory, zero-filled when allocated; host copies ({@code upload}, {@code download},
 * {@code readState}, {@code writeState}) are synchronous and wait for the work enqueued before them. Reductions
 * that need scratch memory (bias gradients, the gradient norm, a per-dimension Gaussian log-variance) share one
 * scratch buffer that grows on first need and is never freed before the backend closes (a captured graph keeps
 * the address it was captured with), so a step allocates nothing once it has run once.
 *
 * <p>Used from one thread at a time, like every backend.
 */
public final class CudaBackend implements Backend {

    /** How {@link #compileStep} runs a step. */
    public enum StepMode {
        /** Run once directly, then capture as a CUDA graph and replay it (the fast path). */
        GRAPH,
        /** Enqueue every operation of every step directly. */
        DIRECT
    }

    private final CudaContext context;
    private final boolean ownsContext;
    private final StepMode stepMode;
    private final CudaStream stream;
    private final Cublas cublas;
    private final ActivationKernels activations;
    private final BiasGradientKernels biasGradients;
    private final LatentKernels latent;
    private final BernoulliKernels bernoulli;
    private final GaussianKernels gaussian;
    private final LossTotalsKernels lossTotals;
    private final IwaeKernels iwae;
    private final GradientNormKernels gradientNorm;
    private final AdamKernels adam;
    private final GatherKernels gather;
    private final String description;
    /** Every scratch buffer made so far; the last is the current one. Older ones may be in a captured graph. */
    private final List<DeviceBuffer> scratch = new ArrayList<>();
    private final List<CudaGraph> graphs = new ArrayList<>();
    private boolean closed;

    private CudaBackend(CudaContext context, boolean ownsContext, StepMode stepMode) {
        this.context = context;
        this.ownsContext = ownsContext;
        this.stepMode = Objects.requireNonNull(stepMode, "stepMode");
        this.stream = context.createStream();
        this.cublas = context.createCublas(stream);
        this.activations = new ActivationKernels(context);
        this.biasGradients = new BiasGradientKernels(context);
        this.latent = new LatentKernels(context);
        this.bernoulli = new BernoulliKernels(context);
        this.gaussian = new GaussianKernels(context);
        this.lossTotals = new LossTotalsKernels(context);
        this.iwae = new IwaeKernels(context);
        this.gradientNorm = new GradientNormKernels(context);
        this.adam = new AdamKernels(context);
        this.gather = new GatherKernels(context);
        DeviceProperties device = context.runtime().device(context.deviceOrdinal());
        this.description = "cuda (" + device.name() + ", " + device.architecture() + ", cuBLAS " + cublas.version()
                + ", steps " + (stepMode == StepMode.GRAPH ? "replayed as a CUDA graph" : "run directly") + ")";
    }

    /**
     * A backend on device {@code ordinal} with its own context (released by {@link #close()}).
     *
     * @throws dev.elbo4j.cuda.CudaUnavailableException when no CUDA driver (or cuBLAS) can be loaded
     * @throws dev.elbo4j.cuda.CudaException           when the driver refuses, e.g. no such device
     */
    public static CudaBackend open(int ordinal, StepMode stepMode) {
        CudaContext context = CudaRuntime.get().openContext(ordinal);
        try {
            return new CudaBackend(context, true, stepMode);
        } catch (RuntimeException e) {
            context.close();
            throw e;
        }
    }

    /** A backend on an open context that the caller keeps and closes (after this backend). */
    public static CudaBackend on(CudaContext context, StepMode stepMode) {
        Objects.requireNonNull(context, "context");
        return new CudaBackend(context, false, stepMode);
    }

    /** The context the backend works in. */
    public CudaContext context() {
        return context;
    }

    /** The stream every operation is enqueued on. */
    public CudaStream stream() {
        return stream;
    }

    @Override
    public String description() {
        return description;
    }

    // ------------------------------------------------------------------------------------------------ buffers

    @Override
    public Floats allocateFloats(long count) {
        return new CudaBuffers.Floats(this, zeroed(count, Float.BYTES, "floats"), count, true);
    }

    @Override
    public Bytes allocateBytes(long count) {
        return new CudaBuffers.Bytes(this, zeroed(count, 1, "bytes"), count, true);
    }

    @Override
    public Ints allocateInts(long count) {
        return new CudaBuffers.Ints(this, zeroed(count, Integer.BYTES, "ints"), count, true);
    }

    /** {@code count} zeroed elements of {@code elementBytes}. */
    private DeviceBuffer zeroed(long count, int elementBytes, String what) {
        checkOpen();
        if (count < 1 || count > Long.MAX_VALUE / elementBytes) {
            throw new IllegalArgumentException("cannot allocate " + count + " " + what
                    + ": the count must be at least 1 and the bytes fit a long");
        }
        DeviceBuffer buffer = context.allocate(count * elementBytes);
        buffer.fillBytes((byte) 0);
        return buffer;
    }

    @Override
    public void upload(float[] source, Floats destination) {
        Objects.requireNonNull(source, "source");
        floats(destination, "destination").copyFrom(source);
    }

    @Override
    public void upload(byte[] source, Bytes destination) {
        Objects.requireNonNull(source, "source");
        CudaBuffers.of(this, destination, CudaBuffers.Bytes.class, "destination").device("destination")
                .copyFrom(source);
    }

    @Override
    public void upload(int[] source, Ints destination) {
        Objects.requireNonNull(source, "source");
        ints(destination, "destination").copyFrom(source);
    }

    @Override
    public void download(Floats source, float[] destination) {
        Objects.requireNonNull(destination, "destination");
        floats(source, "source").copyTo(destination);
    }

    // ------------------------------------------------------------------------------------------------ state

    /** A {@link DeviceStepState} of this backend. */
    private static final class CudaStepState implements StepState {
        final CudaBackend owner;
        final DeviceStepState device;

        CudaStepState(CudaBackend owner, DeviceStepState device) {
            this.owner = owner;
            this.device = device;
        }

        @Override
        public void close() {
            device.close();
        }
    }

    @Override
    public StepState allocateState() {
        checkOpen();
        return new CudaStepState(this, DeviceStepState.allocate(context));
    }

    @Override
    public StepStatus readState(StepState state) {
        return state(state).read();
    }

    @Override
    public void writeState(StepState state, StepStatus status) {
        state(state).write(status);
    }

    // ------------------------------------------------------------------------------------------------ capture

    /**
     * {@link StepMode#DIRECT}: the step itself. {@link StepMode#GRAPH}: a runner that runs the step directly the
     * first time, captures it into a CUDA graph the second time, and launches the graph every time after the
     * first. The step must enqueue only this backend's operations (no host copies or state reads: a capture refuses
     * them).
     */
    @Override
    public Runnable compileStep(Runnable step) {
        Objects.requireNonNull(step, "step");
        checkOpen();
        return stepMode == StepMode.DIRECT ? step : new GraphStep(step);
    }

    /** A step that becomes a CUDA graph on its second run. */
    private final class GraphStep implements Runnable {
        private final Runnable step;
        private boolean ranDirectly;
        private CudaGraph graph;

        GraphStep(Runnable step) {
            this.step = step;
        }

        @Override
        public void run() {
            checkOpen();
            if (graph == null) {
                if (!ranDirectly) {
                    step.run();
                    ranDirectly = true;
                    return;
                }
                graph = context.capture(stream, step);
                graphs.add(graph);
            }
            graph.launch(stream);
        }
    }

    // ------------------------------------------------------------------------------------------------ data

    @Override
    public void gatherRows(Bytes dataset, int dims, Ints order, StepState state, int rows, boolean binarize,
                           long seed, Floats x) {
        CudaBuffers.Bytes data = CudaBuffers.of(this, dataset, CudaBuffers.Bytes.class, "dataset");
        CudaBuffers.Ints indices = CudaBuffers.of(this, order, CudaBuffers.Ints.class, "order");
        if (dims < 1) {
            throw new IllegalArgumentException("D (dims) must be at least 1 but is " + dims);
        }
        long datasetRows = data.size() / dims;
        if (datasetRows < 1 || datasetRows > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("the data set of " + data.size() + " bytes holds " + datasetRows
                    + " rows of D = " + dims + ": it must hold between 1 and 2^31 - 1");
        }
        gather.gather(stream, LikelihoodShape.of(rows, dims), data.device("dataset"), (int) datasetRows,
                indices.device("order"), indices.size(), state(state), binarize, seed, floats(x, "x"));
    }

    // ------------------------------------------------------------------------------------------------ dense layers

    /** Every precision: FP32 on the CUDA cores, TF32 and BF16 on the tensor cores where the GPU has them. */
    @Override
    public boolean supports(GemmPrecision precision) {
        return precision != null;
    }

    @Override
    public void gemm(GemmPrecision precision, boolean transA, boolean transB, int m, int n, int k, float alpha,
                     Floats a, int lda, Floats b, int ldb, float beta, Floats c, int ldc) {
        Objects.requireNonNull(precision, "precision");
        checkOpen();
        DeviceBuffer left = floats(a, "a");
        DeviceBuffer right = floats(b, "b");
        DeviceBuffer out = floats(c, "c");
        if (precision == GemmPrecision.FP32) {
            cublas.sgemm(transA, transB, m, n, k, alpha, left, lda, right, ldb, beta, out, ldc);
        } else {
            cublas.gemmEx(transA, transB, m, n, k, alpha, left, lda, right, ldb, beta, out, ldc, precision);
        }
    }

    @Override
    public void biasActivation(DenseShape shape, Floats bias, Activation activation, Floats preActivation,
                               Floats output) {
        activations.forward(stream, shape, floats(preActivation, "preActivation"), floats(bias, "bias"), activation,
                floats(output, "output"));
    }

    @Override
    public void activationBackward(DenseShape shape, Activation activation, Floats preActivation, Floats dOutput,
                                   Floats dPreActivation) {
        activations.backward(stream, shape, floats(preActivation, "preActivation"), floats(dOutput, "dOutput"),
                activation, floats(dPreActivation, "dPreActivation"));
    }

    @Override
    public void biasGradient(DenseShape shape, Floats dPreActivation, Floats dBias) {
        Objects.requireNonNull(shape, "shape");
        DeviceBuffer workspace = scratch(BiasGradientKernels.workspaceBytes(shape));
        biasGradients.compute(stream, shape, floats(dPreActivation, "dPreActivation"), workspace,
                floats(dBias, "dBias"));
    }

    // ------------------------------------------------------------------------------------------------ latent layer

    @Override
    public void latentForward(LatentShape shape, Floats muLogvar, long seed, StepState state, Floats z, Floats kl,
                              Floats logRatio) {
        latent.forward(stream, shape, floats(muLogvar, "muLogvar"), seed, state(state).noiseOffset(),
                floats(z, "z"), optionalFloats(kl, "kl"), optionalFloats(logRatio, "logRatio"));
    }

    @Override
    public void latentBackward(LatentShape shape, Floats muLogvar, Floats dz, long seed, StepState state,
                               Floats klWeights, Floats dMuLogvar) {
        latent.backward(stream, shape, floats(muLogvar, "muLogvar"), floats(dz, "dz"), seed,
                state(state).noiseOffset(), floats(klWeights, "klWeights"), floats(dMuLogvar, "dMuLogvar"));
    }

    // ------------------------------------------------------------------------------------------------ likelihoods

    @Override
    public void bernoulliLoss(LikelihoodShape shape, Floats logits, Floats x, float gradScale, Floats logProb,
                              Floats grad) {
        bernoulli.lossAndGradient(stream, shape, floats(logits, "logits"), floats(x, "x"), TargetFormat.FLOAT32, null,
                gradScale, floats(logProb, "logProb"), optionalFloats(grad, "grad"));
    }

    @Override
    public void gaussianLoss(LikelihoodShape shape, Floats mean, Floats x, LogVariance logVariance, float gradScale,
                             Floats logProb, Floats gradMean, Floats gradLogVar) {
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(logVariance, "logVariance");
        GaussianKernels.LogVariance deviceLogVariance = switch (logVariance) {
            case LogVariance.Fixed fixed -> new GaussianKernels.LogVariance.Fixed(fixed.value());
            case LogVariance.PerDimension perDimension ->
                    new GaussianKernels.LogVariance.PerDimension(floats(perDimension.values(), "logVariance"));
            case LogVariance.PerRow perRow ->
                    new GaussianKernels.LogVariance.PerRow(floats(perRow.values(), "logVariance"));
        };
        boolean sumsOverRows = logVariance instanceof LogVariance.PerDimension && gradLogVar != null;
        DeviceBuffer workspace = sumsOverRows ? scratch(GaussianKernels.workspaceFloats(shape) * Float.BYTES) : null;
        gaussian.lossAndGradient(stream, shape, floats(mean, "mean"), floats(x, "x"), deviceLogVariance, gradScale,
                floats(logProb, "logProb"), optionalFloats(gradMean, "gradMean"),
                optionalFloats(gradLogVar, "gradLogVar"), workspace);
    }

    // ------------------------------------------------------------------------------------------------ totals

    @Override
    public void lossTotals(StepState state, KlSchedule schedule, LatentShape shape, Floats muLogvar, Floats logProb,
                           Floats kl, Floats klWeights) {
        lossTotals.compute(stream, shape, floats(muLogvar, "muLogvar"), floats(logProb, "logProb"), floats(kl, "kl"),
                schedule, state(state), floats(klWeights, "klWeights"));
    }

    @Override
    public void iwaeBound(SampleShape shape, Floats logPx, Floats logRatio, Floats bound) {
        iwae.bound(stream, shape, floats(logPx, "logPx"), floats(logRatio, "logRatio"), null, floats(bound, "bound"));
    }

    // ------------------------------------------------------------------------------------------------ optimizer

    @Override
    public void gradientNorm(Floats gradients, StepState state) {
        CudaBuffers.Floats g = CudaBuffers.of(this, gradients, CudaBuffers.Floats.class, "gradients");
        if (g.size() < 1) {
            throw new IllegalArgumentException("gradients is empty");
        }
        gradientNorm.compute(stream, g.size(), g.device("gradients"),
                scratch(GradientNormKernels.workspaceBytes(g.size())), state(state));
    }

    @Override
    public void adam(AdamSettings settings, StepState state, Floats parameters, Floats gradients,
                     Floats firstMoments, Floats secondMoments) {
        CudaBuffers.Floats p = CudaBuffers.of(this, parameters, CudaBuffers.Floats.class, "parameters");
        if (p.size() < 1) {
            throw new IllegalArgumentException("parameters is empty");
        }
        adam.update(stream, p.size(), floats(gradients, "gradients"), settings, state(state), p.device("parameters"),
                floats(firstMoments, "firstMoments"), floats(secondMoments, "secondMoments"));
    }

    @Override
    public void advance(StepState state, int rows) {
        state(state).advance(stream, rows);
    }

    // ------------------------------------------------------------------------------------------------ lifecycle

    /**
     * Releases the graphs, the scratch memory, the cuBLAS handle and the stream (after the device finished the work
     * enqueued), and the context when the backend opened it (which frees every buffer it allocated).
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        List<AutoCloseable> resources = new ArrayList<>(graphs);
        resources.addAll(scratch);
        resources.add(cublas);
        resources.add(stream);
        if (ownsContext) {
            resources.add(context);
        }
        RuntimeException failure = null;
        try {
            stream.synchronize();
        } catch (RuntimeException e) {
            failure = e;
        }
        for (AutoCloseable resource : resources) {
            try {
                resource.close();
            } catch (Exception e) {
                RuntimeException wrapped = e instanceof RuntimeException runtime ? runtime : new RuntimeException(e);
                if (failure == null) {
                    failure = wrapped;
                } else {
                    failure.addSuppressed(wrapped);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException(description + " is closed");
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private DeviceBuffer floats(Floats buffer, String name) {
        checkOpen();
        return CudaBuffers.of(this, buffer, CudaBuffers.Floats.class, name).device(name);
    }

    private DeviceBuffer optionalFloats(Floats buffer, String name) {
        return buffer == null ? null : floats(buffer, name);
    }

    private DeviceBuffer ints(Ints buffer, String name) {
        checkOpen();
        return CudaBuffers.of(this, buffer, CudaBuffers.Ints.class, name).device(name);
    }

    private DeviceStepState state(StepState state) {
        checkOpen();
        Objects.requireNonNull(state, "state");
        if (!(state instanceof CudaStepState cuda) || cuda.owner != this) {
            throw new IllegalArgumentException("state is not a step state of this CUDA backend");
        }
        if (cuda.device.isClosed()) {
            throw new IllegalStateException("state is closed");
        }
        return cuda.device;
    }

    /**
     * Scratch memory of at least {@code bytes} (null for 0): the current buffer when it is large enough, else a new
     * one of at least twice its size. Old buffers stay allocated: a captured graph may use them.
     *
     * @throws IllegalStateException when a larger buffer is needed during a capture (which cannot allocate)
     */
    private DeviceBuffer scratch(long bytes) {
        if (bytes == 0) {
            return null;
        }
        DeviceBuffer current = scratch.isEmpty() ? null : scratch.getLast();
        if (current != null && current.byteSize() >= bytes) {
            return current;
        }
        if (stream.isCapturing()) {
            throw new IllegalStateException("the step being captured needs " + bytes + " bytes of scratch memory, "
                    + "more than its direct run did: a captured step must repeat the operations of its first run");
        }
        DeviceBuffer grown = context.allocate(Math.max(bytes, current == null ? 0 : 2 * current.byteSize()));
        scratch.add(grown);
        return grown;
    }
}
