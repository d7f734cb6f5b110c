package dev.elbo4j.nn;

import java.util.ArrayList;
import java.util.List;

import dev.elbo4j.nn.Backend.Floats;
import dev.elbo4j.nn.ParameterLayout.Layer;
import dev.elbo4j.shape.DenseShape;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;

/**
 * The activations (and, for training, their gradients) of one batch size and sample count, allocated once: a
 * step reuses them and allocates nothing. The shapes of every operation are made here too, once.
 */
final class Workspace implements AutoCloseable {
    final int batch;
    final int samples;
    final LatentShape latentShape;
    final LikelihoodShape likelihoodShape;
    final List<DenseShape> encoderShapes = new ArrayList<>();
    final List<DenseShape> decoderShapes = new ArrayList<>();
    final DenseShape logVarianceHeadShape;

    final Floats x;
    final Floats[] encoderPre;
    final Floats[] encoderOut;
    final Floats z;
    final Floats kl;
    final Floats logRatio;
    final Floats[] decoderPre;
    final Floats[] decoderOut;
    final Floats logVarianceRows;
    /** {@link #logVarianceRows} as the Gaussian loss reads it (null unless the likelihood is per-row Gaussian). */
    final Backend.LogVariance perRowLogVariance;
    final Floats logProb;
    final Floats klWeights;

    // Gradients (null when the workspace is for evaluation only).
    final Floats dOutput;
    final Floats dLogVarianceRows;
    final Floats[] decoderGrad;
    final Floats dz;
    final Floats dMuLogvar;
    final Floats[] encoderGrad;

    private final List<Floats> owned = new ArrayList<>();

    Workspace(Backend backend, ParameterLayout layout, int batch, int samples, boolean training) {
        VaeSpec spec = layout.spec();
        this.batch = batch;
        this.samples = samples;
        int rows = Math.multiplyExact(batch, samples);
        this.latentShape = LatentShape.of(batch, spec.latent()).withSamples(samples);
        this.likelihoodShape = LikelihoodShape.of(batch, spec.inputs()).withSamples(samples);
        List<Layer> encoder = layout.encoder();
        List<Layer> decoder = layout.decoder();
        this.x = allocate(backend, (long) batch * spec.inputs());
        this.encoderPre = new Floats[encoder.size()];
        this.encoderOut = new Floats[encoder.size()];
        this.encoderGrad = training ? new Floats[encoder.size()] : null;
        for (int i = 0; i < encoder.size(); i++) {
            Layer layer = encoder.get(i);
            encoderShapes.add(layer.shape(batch));
            long size = (long) batch * layer.outputs();
            encoderPre[i] = allocate(backend, size);
            encoderOut[i] = layer.activation() == Activation.IDENTITY ? encoderPre[i] : allocate(backend, size);
            if (training) {
                encoderGrad[i] = allocate(backend, size);
            }
        }
        this.z = allocate(backend, (long) rows * spec.latent());
        this.kl = allocate(backend, batch);
        this.logRatio = allocate(backend, rows);
        this.decoderPre = new Floats[decoder.size()];
        this.decoderOut = new Floats[decoder.size()];
        this.decoderGrad = training ? new Floats[decoder.size()] : null;
        for (int i = 0; i < decoder.size(); i++) {
            Layer layer = decoder.get(i);
            decoderShapes.add(layer.shape(rows));
            long size = (long) rows * layer.outputs();
            decoderPre[i] = allocate(backend, size);
            decoderOut[i] = layer.activation() == Activation.IDENTITY ? decoderPre[i] : allocate(backend, size);
            boolean output = i == decoder.size() - 1;
            if (training && !output) {
                decoderGrad[i] = allocate(backend, size);
            }
        }
        this.logVarianceHeadShape = layout.logVarianceHead().map(head -> head.shape(rows)).orElse(null);
        long outputs = (long) rows * spec.inputs();
        this.logVarianceRows = logVarianceHeadShape != null ? allocate(backend, outputs) : null;
        this.perRowLogVariance = logVarianceRows != null ? new Backend.LogVariance.PerRow(logVarianceRows) : null;
        this.logProb = allocate(backend, rows);
        this.klWeights = allocate(backend, spec.latent());
        this.dOutput = training ? allocate(backend, outputs) : null;
        this.dLogVarianceRows = training && logVarianceHeadShape != null ? allocate(backend, outputs) : null;
        this.dz = training ? allocate(backend, (long) rows * spec.latent()) : null;
        this.dMuLogvar = training ? encoderGrad[encoder.size() - 1] : null;
    }

    private Floats allocate(Backend backend, long count) {
        Floats buffer = backend.allocateFloats(count);
        owned.add(buffer);
        return buffer;
    }

    /** {@code [mu | logvar]}: the encoder's last output, B x 2L. */
    Floats muLogvar() {
        return encoderOut[encoderOut.length - 1];
    }

    /** The decoder's output: logits (Bernoulli) or means (Gaussian), (K*B) x D. */
    Floats decoderOutput() {
        return decoderOut[decoderOut.length - 1];
    }

    @Override
    public void close() {
        owned.forEach(Floats::close);
    }
}
