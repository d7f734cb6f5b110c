package dev.elbo4j.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

import dev.elbo4j.shape.DenseShape;

/**
 * Where each parameter tensor of a {@link VaeSpec} lives in the one flat float buffer that holds all parameters (and,
 * at the same offsets, their gradients and both Adam moments), and its stable name. A checkpoint stores tensors by
 * these names, which follow PyTorch's {@code state_dict} convention so that the tensors load into an equivalent
 * {@code torch.nn.Module} unchanged:
 * <ul>
 *   <li>{@code encoder.i.weight} (out x in, row-major, {@code y = x W^T + b}) and {@code encoder.i.bias} (out) for
 *       the encoder's layers, input side first; the last, {@code encoder.N}, writes {@code [mu | logvar]} (2L
 *       outputs, linear);</li>
 *   <li>{@code decoder.i.weight}, {@code decoder.i.bias} likewise, latent side first; the last writes the D logits
 *       (Bernoulli) or means (Gaussian), linear;</li>
 *   <li>{@code decoder.logvar.weight}, {@code decoder.logvar.bias}: the log-variance head of
 *       {@link Likelihood#GAUSSIAN_PER_ROW} (D outputs, linear, same input as the decoder's last layer);</li>
 *   <li>{@code decoder.logvar} (D): the learned log-variance of {@link Likelihood#GAUSSIAN_PER_DIMENSION}.</li>
 * </ul>
 * Tensors follow one another in that order, each starting at a multiple of {@value #ALIGNMENT} floats (256 bytes,
 * the alignment GPU libraries like best); the gaps are zero and receive zero gradients.
 */
public final class ParameterLayout {

    /** Every tensor starts at a multiple of this many floats. */
    public static final int ALIGNMENT = 64;

    /**
     * One named tensor of the flat buffer.
     *
     * @param name   its stable name
     * @param shape  its dimensions, PyTorch's order (out x in for a weight)
     * @param offset its first float in the flat buffer
     */
    public record Tensor(String name, List<Integer> shape, long offset) {
        /** Copies the shape. */
        public Tensor {
            Objects.requireNonNull(name, "name");
            shape = List.copyOf(shape);
        }

        /** The number of floats. */
        public long size() {
            long size = 1;
            for (int dim : shape) {
                size *= dim;
            }
            return size;
        }
    }

    /**
     * A dense layer {@code y = activation(x W^T + b)}.
     *
     * @param name       its name ("encoder.0"); the tensors are {@code name.weight} and {@code name.bias}
     * @param inputs     in
     * @param outputs    out
     * @param activation IDENTITY for the output layers
     * @param weight     out x in
     * @param bias       out
     */
    public record Layer(String name, int inputs, int outputs, Activation activation, Tensor weight, Tensor bias) {
        /** The shape of this layer applied to {@code rows} rows. */
        public DenseShape shape(int rows) {
            return new DenseShape(rows, inputs, outputs);
        }

        /** {@code 1 / sqrt(inputs)}: the bound of nn.Linear's uniform initialization. */
        public double initBound() {
            return 1.0 / Math.sqrt(inputs);
        }
    }

    private final VaeSpec spec;
    private final List<Layer> encoder;
    private final List<Layer> decoder;
    private final Layer logVarianceHead;
    private final Tensor logVariance;
    private final Map<String, Tensor> tensors;
    private final long totalFloats;

    private ParameterLayout(VaeSpec spec) {
        this.spec = spec;
        Map<String, Tensor> byName = new LinkedHashMap<>();
        long[] next = {0};
        List<Layer> encoderLayers = new ArrayList<>();
        int width = spec.inputs();
        for (int i = 0; i <= spec.encoderHidden().size(); i++) {
            boolean head = i == spec.encoderHidden().size();
            int outputs = head ? 2 * spec.latent() : spec.encoderHidden().get(i);
            encoderLayers.add(layer(byName, next, "encoder." + i, width, outputs,
                    head ? Activation.IDENTITY : spec.activation()));
            width = outputs;
        }
        List<Layer> decoderLayers = new ArrayList<>();
        width = spec.latent();
        for (int i = 0; i <= spec.decoderHidden().size(); i++) {
            boolean output = i == spec.decoderHidden().size();
            int outputs = output ? spec.inputs() : spec.decoderHidden().get(i);
            decoderLayers.add(layer(byName, next, "decoder." + i, width, outputs,
                    output ? Activation.IDENTITY : spec.activation()));
            if (!output) {
                width = outputs;
            }
        }
        this.logVarianceHead = spec.likelihood() == Likelihood.GAUSSIAN_PER_ROW
                ? layer(byName, next, "decoder.logvar", width, spec.inputs(), Activation.IDENTITY)
                : null;
        this.logVariance = spec.likelihood() == Likelihood.GAUSSIAN_PER_DIMENSION
                ? tensor(byName, next, "decoder.logvar", spec.inputs())
                : null;
        this.encoder = List.copyOf(encoderLayers);
        this.decoder = List.copyOf(decoderLayers);
        this.tensors = Collections.unmodifiableMap(byName);
        this.totalFloats = next[0];
    }

    /** The layout of {@code spec}'s parameters. */
    public static ParameterLayout of(VaeSpec spec) {
        return new ParameterLayout(Objects.requireNonNull(spec, "spec"));
    }

    private static Layer layer(Map<String, Tensor> byName, long[] next, String name, int inputs, int outputs,
                               Activation activation) {
        Tensor weight = tensor(byName, next, name + ".weight", outputs, inputs);
        Tensor bias = tensor(byName, next, name + ".bias", outputs);
        return new Layer(name, inputs, outputs, activation, weight, bias);
    }

    private static Tensor tensor(Map<String, Tensor> byName, long[] next, String name, int... shape) {
        Tensor tensor = new Tensor(name, java.util.Arrays.stream(shape).boxed().toList(), next[0]);
        byName.put(name, tensor);
        long end = next[0] + tensor.size();
        next[0] = (end + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        return tensor;
    }

    /** The spec this layout is for. */
    public VaeSpec spec() {
        return spec;
    }

    /** The encoder's layers, input side first; the last writes {@code [mu | logvar]}. */
    public List<Layer> encoder() {
        return encoder;
    }

    /** The decoder's layers, latent side first; the last writes the logits or means. */
    public List<Layer> decoder() {
        return decoder;
    }

    /** The log-variance head of {@link Likelihood#GAUSSIAN_PER_ROW}. */
    public Optional<Layer> logVarianceHead() {
        return Optional.ofNullable(logVarianceHead);
    }

    /** The learned log-variance vector of {@link Likelihood#GAUSSIAN_PER_DIMENSION}. */
    public Optional<Tensor> logVariance() {
        return Optional.ofNullable(logVariance);
    }

    /** Every tensor, in buffer order, by name. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** Floats in the flat buffer, gaps included. */
    public long totalFloats() {
        return totalFloats;
    }

    /** Floats in the tensors (the number of parameters). */
    public long parameterCount() {
        return tensors.values().stream().mapToLong(Tensor::size).sum();
    }

    /** Every dense layer: the encoder's, the decoder's, and the log-variance head if any. */
    public List<Layer> allLayers() {
        List<Layer> layers = new ArrayList<>(encoder);
        layers.addAll(decoder);
        if (logVarianceHead != null) {
            layers.add(logVarianceHead);
        }
        return layers;
    }
}
