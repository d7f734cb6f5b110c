package dev.elbo4j.nn;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;

import dev.elbo4j.nn.Backend.Floats;
import dev.elbo4j.nn.Backend.StepState;
import dev.elbo4j.nn.ParameterLayout.Layer;
import dev.elbo4j.nn.ParameterLayout.Tensor;
import dev.elbo4j.shape.DenseShape;

/**
 * An MLP VAE's parameters in one flat buffer of a {@link Backend}, and its forward and backward passes written
 * once over the backend's operations. {@link Trainer} trains it, {@link Evaluator} measures it; a checkpoint
 * ({@code dev.elbo4j.io.Checkpoint}) saves and restores its {@link #parameters()} by the tensor names of its
 * {@link ParameterLayout}.
 */
public final class Vae implements AutoCloseable {
    /** Mixed into the spec's seed for the initialization, so it draws apart from the data order and the noise. */
    private static final long INIT_STREAM = 0x1A17_5EED_0000_0001L;

    private final VaeSpec spec;
    private final ParameterLayout layout;
    private final Backend backend;
    private final Floats parameters;
    private final Map<String, Floats> views = new HashMap<>();
    private final Map<String, Floats> gradientViews = new HashMap<>();
    private final KlSchedule klSchedule;
    private final Backend.LogVariance fixedLogVariance;
    private Backend.LogVariance perDimensionLogVariance;
    private volatile boolean closed;

    private Vae(VaeSpec spec, Backend backend, float[] initial) {
        this.spec = spec;
        this.layout = ParameterLayout.of(spec);
        this.backend = backend;
        this.klSchedule = spec.klSchedule();
        this.fixedLogVariance = new Backend.LogVariance.Fixed(spec.fixedLogVariance());
        if (!backend.supports(spec.precision())) {
            throw new IllegalArgumentException("GEMM precision " + spec.precision() + " is not available on "
                    + backend.description() + ": the CPU computes in FP32 only; use FP32 (or a GPU for TF32/BF16)");
        }
        this.parameters = backend.allocateFloats(layout.totalFloats());
        for (Tensor tensor : layout.tensors().values()) {
            views.put(tensor.name(), parameters.slice(tensor.offset(), tensor.size()));
        }
        perDimensionLogVariance = layout.logVariance()
                .map(tensor -> (Backend.LogVariance) new Backend.LogVariance.PerDimension(view(tensor))).orElse(null);
        backend.upload(initial != null ? checkLength(initial) : initialParameters(layout), parameters);
    }

    /** A model of {@code spec} on {@code backend}, initialized as PyTorch's nn.Linear from the spec's seed. */
    public static Vae create(VaeSpec spec, Backend backend) {
        return new Vae(Objects.requireNonNull(spec, "spec"), Objects.requireNonNull(backend, "backend"), null);
    }

    /**
     * A model of {@code spec} on {@code backend} holding {@code parameters} (the flat buffer of its
     * {@link ParameterLayout}, gaps zero), e.g. from a checkpoint.
     */
    public static Vae withParameters(VaeSpec spec, Backend backend, float[] parameters) {
        Objects.requireNonNull(parameters, "parameters");
        return new Vae(Objects.requireNonNull(spec, "spec"), Objects.requireNonNull(backend, "backend"), parameters);
    }

    private float[] checkLength(float[] flat) {
        if (flat.length != layout.totalFloats()) {
            throw new IllegalArgumentException("the parameters have " + flat.length + " floats but the layout of "
                    + spec.summary() + " has " + layout.totalFloats());
        }
        return flat;
    }

    /**
     * nn.Linear's initialization: every weight and bias uniform in {@code +-1/sqrt(fan_in)}, drawn tensor by tensor
     * in layout order from a {@link SplittableRandom} seeded by the spec's seed (the same floats on every backend);
     * the per-dimension log-variance starts at 0 (unit variance).
     */
    static float[] initialParameters(ParameterLayout layout) {
        float[] flat = new float[Math.toIntExact(layout.totalFloats())];
        SplittableRandom random = new SplittableRandom(layout.spec().seed() ^ INIT_STREAM);
        for (Layer layer : layout.allLayers()) {
            double bound = layer.initBound();
            for (Tensor tensor : List.of(layer.weight(), layer.bias())) {
                for (long i = 0; i < tensor.size(); i++) {
                    flat[(int) (tensor.offset() + i)] = (float) random.nextDouble(-bound, bound);
                }
            }
        }
        return flat;
    }

    /** The spec. */
    public VaeSpec spec() {
        return spec;
    }

    /** Where each tensor lives in {@link #parameters()}. */
    public ParameterLayout layout() {
        return layout;
    }

    /** The backend the parameters live on. */
    public Backend backend() {
        return backend;
    }

    /** A copy of the flat parameter buffer (layout order, gaps zero). */
    public float[] parameters() {
        checkOpen();
        float[] copy = new float[Math.toIntExact(layout.totalFloats())];
        backend.download(parameters, copy);
        return copy;
    }

    /** Replaces every parameter with {@code flat} (the layout's length). */
    public void setParameters(float[] flat) {
        checkOpen();
        backend.upload(checkLength(Objects.requireNonNull(flat, "flat")), parameters);
    }

    /** The flat parameter buffer in backend memory. */
    Floats parameterBuffer() {
        return parameters;
    }

    private Floats view(Tensor tensor) {
        return views.get(tensor.name());
    }

    // ------------------------------------------------------------------------------------------------ passes

    /**
     * The encoder on {@code rows} rows of {@code work.x}, writing {@code [mu | logvar]} into
     * {@code work.muLogvar()}.
     */
    void encode(Workspace work, int rows) {
        checkOpen();
        List<Layer> encoder = layout.encoder();
        Floats input = work.x;
        int inputStride = spec.inputs();
        for (int i = 0; i < encoder.size(); i++) {
            Layer layer = encoder.get(i);
            DenseShape shape = rows == work.batch ? work.encoderShapes.get(i) : layer.shape(rows);
            dense(layer, shape, input, inputStride, work.encoderPre[i], work.encoderOut[i]);
            input = work.encoderOut[i];
            inputStride = layer.outputs();
        }
    }

    /**
     * The decoder on {@code rows} rows of {@code latent} (row stride {@code latentStride}), writing the logits or
     * means into {@code work.decoderOutput()} and a per-row log-variance into {@code work.logVarianceRows}.
     */
    void decode(Workspace work, Floats latent, int latentStride, int rows) {
        checkOpen();
        List<Layer> decoder = layout.decoder();
        Floats input = latent;
        int inputStride = latentStride;
        int workRows = work.batch * work.samples;
        for (int i = 0; i < decoder.size(); i++) {
            Layer layer = decoder.get(i);
            DenseShape shape = rows == workRows ? work.decoderShapes.get(i) : layer.shape(rows);
            if (i == decoder.size() - 1 && work.logVarianceRows != null) {
                Layer head = layout.logVarianceHead().orElseThrow();
                DenseShape headShape = rows == workRows ? work.logVarianceHeadShape : head.shape(rows);
                dense(head, headShape, input, inputStride, work.logVarianceRows, work.logVarianceRows);
            }
            dense(layer, shape, input, inputStride, work.decoderPre[i], work.decoderOut[i]);
            input = work.decoderOut[i];
            inputStride = layer.outputs();
        }
    }

    private void dense(Layer layer, DenseShape shape, Floats input, int inputStride, Floats pre, Floats out) {
        backend.gemm(spec.precision(), false, true, shape.rows(), layer.outputs(), layer.inputs(), 1f, input,
                inputStride, view(layer.weight()), layer.inputs(), 0f, pre, layer.outputs());
        backend.biasActivation(shape, view(layer.bias()), layer.activation(), pre, out);
    }

    /**
     * The likelihood of the decoder output ({@code shape}: K x B x D of it) against {@code work.x} into
     * {@code work.logProb}, with the gradients (scaled by 1/(K*B)) when {@code gradients} is given.
     */
    void likelihood(Workspace work, dev.elbo4j.shape.LikelihoodShape shape, Floats gradients) {
        float gradScale = 1f / (shape.batch() * shape.samples());
        Floats gradOut = gradients == null ? null : work.dOutput;
        switch (spec.likelihood()) {
            case BERNOULLI -> backend.bernoulliLoss(shape, work.decoderOutput(), work.x, gradScale,
                    work.logProb, gradOut);
            case GAUSSIAN_FIXED -> backend.gaussianLoss(shape, work.decoderOutput(), work.x,
                    fixedLogVariance, gradScale, work.logProb, gradOut, null);
            case GAUSSIAN_PER_DIMENSION -> {
                Tensor logVariance = layout.logVariance().orElseThrow();
                backend.gaussianLoss(shape, work.decoderOutput(), work.x,
                        perDimensionLogVariance, gradScale, work.logProb, gradOut,
                        gradients == null ? null : gradientView(logVariance));
            }
            case GAUSSIAN_PER_ROW -> backend.gaussianLoss(shape, work.decoderOutput(), work.x,
                    work.perRowLogVariance, gradScale, work.logProb, gradOut,
                    gradients == null ? null : work.dLogVarianceRows);
        }
    }

    /**
     * Cuts {@code gradients} (a flat buffer of the layout's size) into per-tensor views, once, for the training
     * steps that follow; a step then looks its views up without allocating.
     */
    void bindGradients(Floats gradients) {
        gradientViews.clear();
        for (Tensor tensor : layout.tensors().values()) {
            gradientViews.put(tensor.name(), gradients.slice(tensor.offset(), tensor.size()));
        }
    }

    private Floats gradientView(Tensor tensor) {
        Floats view = gradientViews.get(tensor.name());
        if (view == null) {
            throw new IllegalStateException("no gradient buffer is bound (bindGradients)");
        }
        return view;
    }

    /**
     * One training step's forward and backward after the batch is in {@code work.x}: encoder, latent samples, decoder,
     * likelihood, the batch totals into {@code state}, and every gradient into {@code gradients}.
     */
    void forwardBackward(Workspace work, StepState state, Floats gradients) {
        int batch = work.batch;
        int rows = batch * work.samples;
        encode(work, batch);
        backend.latentForward(work.latentShape, work.muLogvar(), spec.seed(), state, work.z, work.kl, null);
        decode(work, work.z, spec.latent(), rows);
        likelihood(work, work.likelihoodShape, gradients);
        backend.lossTotals(state, klSchedule, work.latentShape, work.muLogvar(), work.logProb, work.kl,
                work.klWeights);
        // Decoder backward, output layer first; decoder layer 0's input gradient is dz.
        List<Layer> decoder = layout.decoder();
        Floats dOut = work.dOutput;
        for (int i = decoder.size() - 1; i >= 0; i--) {
            Layer layer = decoder.get(i);
            Floats input = i == 0 ? work.z : work.decoderOut[i - 1];
            int inputStride = layer.inputs();
            Floats dInput = i == 0 ? work.dz : work.decoderGrad[i - 1];
            boolean head = i == decoder.size() - 1 && work.dLogVarianceRows != null;
            denseBackward(layer, work.decoderShapes.get(i), input, inputStride, work.decoderPre[i], dOut, gradients,
                    dInput, false);
            if (head) {
                Layer logVarianceHead = layout.logVarianceHead().orElseThrow();
                denseBackward(logVarianceHead, work.logVarianceHeadShape, input, inputStride, work.logVarianceRows,
                        work.dLogVarianceRows, gradients, dInput, true);
            }
            dOut = dInput;
        }
        backend.latentBackward(work.latentShape, work.muLogvar(), work.dz, spec.seed(), state, work.klWeights,
                work.dMuLogvar);
        List<Layer> encoder = layout.encoder();
        for (int i = encoder.size() - 1; i >= 0; i--) {
            Layer layer = encoder.get(i);
            Floats input = i == 0 ? work.x : work.encoderOut[i - 1];
            Floats dInput = i == 0 ? null : work.encoderGrad[i - 1];
            denseBackward(layer, work.encoderShapes.get(i), input, layer.inputs(), work.encoderPre[i],
                    work.encoderGrad[i], gradients, dInput, false);
        }
    }

    /**
     * A dense layer's backward: {@code dOut} (the gradient of its output) becomes the pre-activation gradient in
     * place; then the weight and bias gradients, and the input gradient ({@code accumulate}: added to
     * {@code dInput}) unless {@code dInput} is null.
     */
    private void denseBackward(Layer layer, DenseShape shape, Floats input, int inputStride, Floats pre, Floats dOut,
                               Floats gradients, Floats dInput, boolean accumulate) {
        if (layer.activation() != Activation.IDENTITY) {
            backend.activationBackward(shape, layer.activation(), pre, dOut, dOut);
        }
        backend.gemm(spec.precision(), true, false, layer.outputs(), layer.inputs(), shape.rows(), 1f, dOut,
                layer.outputs(), input, inputStride, 0f, gradientView(layer.weight()), layer.inputs());
        backend.biasGradient(shape, dOut, gradientView(layer.bias()));
        if (dInput != null) {
            backend.gemm(spec.precision(), false, false, shape.rows(), layer.inputs(), layer.outputs(), 1f, dOut,
                    layer.outputs(), view(layer.weight()), layer.inputs(), accumulate ? 1f : 0f, dInput,
                    layer.inputs());
        }
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    /** Throws when the model was closed: its parameters are gone. */
    void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the model " + spec.summary() + " is closed");
        }
    }

    /** Releases the parameter buffer; every later use of this model throws IllegalStateException. */
    @Override
    public void close() {
        closed = true;
        parameters.close();
    }
}
