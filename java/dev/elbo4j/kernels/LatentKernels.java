package dev.elbo4j.kernels;

import static dev.elbo4j.cuda.KernelParameter.FLOAT;
import static dev.elbo4j.cuda.KernelParameter.INT;
import static dev.elbo4j.cuda.KernelParameter.LONG;
import static dev.elbo4j.cuda.KernelParameter.NULLABLE_POINTER;
import static dev.elbo4j.cuda.KernelParameter.POINTER;
import static dev.elbo4j.kernels.LaunchChecks.blocks;
import static dev.elbo4j.kernels.LaunchChecks.buffer;
import static dev.elbo4j.kernels.LaunchChecks.disjoint;
import static dev.elbo4j.kernels.LaunchChecks.finite;
import static dev.elbo4j.kernels.LaunchChecks.floats;
import static dev.elbo4j.kernels.LaunchChecks.indexable;
import static dev.elbo4j.kernels.LaunchChecks.optionalFloats;
import static dev.elbo4j.kernels.LaunchChecks.render;

import java.util.Objects;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaFunction;
import dev.elbo4j.cuda.CudaStream;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.shape.LatentShape;

/**
 * The fused latent layer ({@code kernels/latent.cu}): the reparameterization forward in one pass (noise drawn in
 * the kernel, samples, per-row KL, optionally the IWAE log-density ratio) and its backward (the gradient of
 * {@code [mu | logvar]} with the KL term, the noise regenerated or read back from the samples).
 *
 * <p>Layouts (contract {@code docs/numerical-contract.md}, "Reparameterization"), all float32, row-major, sized by one
 * {@link LatentShape} (K, B, L, rowStride):
 * <ul>
 *   <li>{@code muLogvar}: the encoder's output, B rows of {@code rowStride} floats; mu is columns [0, L), logvar
 *       columns [L, 2L), read in place. {@code rowStride >= 2L}.</li>
 *   <li>{@code z}, {@code dz}: K x B x L, sample k of row b at {@code (k*B + b)*L + l}.</li>
 *   <li>The noise {@code eps[k][b][l]} is Philox element {@code (k*B + b)*L + l} of stream 0 under
 *       {@code (seed, offset)}; it is never stored.</li>
 * </ul>
 * Buffers may be larger than their shape needs; only the prefix the shape names is read or written. Every
 * argument is checked before anything is launched; the work is enqueued on {@code stream} (null: the legacy
 * default stream) and this class keeps no state besides the kernel handles.
 */
public final class LatentKernels {
    static final String FORWARD = "elbo4j_latent_forward";
    static final String BACKWARD = "elbo4j_latent_backward";
    private static final int THREADS = 256;

    private final CudaContext context;
    private final CudaFunction forward;
    private final CudaFunction backward;

    /** Binds the kernels of {@code context}'s module ({@link CudaContext#kernels()}). */
    public LatentKernels(CudaContext context) {
        this.context = Objects.requireNonNull(context, "context");
        // (mu, logvar, ld, batch, latent, samples, seed, offset, lanes per row, z, kl, logRatio, offsetSource)
        this.forward = context.kernels().function(FORWARD, POINTER, POINTER, INT, INT, INT, INT, LONG, INT, INT,
                POINTER, NULLABLE_POINTER, NULLABLE_POINTER, NULLABLE_POINTER);
        // (mu, logvar, ld, batch, latent, samples, seed, offset, z, dz, beta, rowWeight, dmu, dlogvar, ldg,
        //  offsetSource, klWeights)
        this.backward = context.kernels().function(BACKWARD, POINTER, POINTER, INT, INT, INT, INT, LONG, INT,
                NULLABLE_POINTER, POINTER, FLOAT, FLOAT, POINTER, POINTER, INT, NULLABLE_POINTER, NULLABLE_POINTER);
    }

    /**
     * Forward: {@code z[k][b][l] = mu + exp(0.5 logvar) eps[k][b][l]} for K samples of each row,
     * {@code kl[b] = 0.5 sum_l (mu^2 + exp(logvar) - 1 - logvar)} (nats), and
     * {@code logRatio[k*B + b] = log p(z_kb) - log q(z_kb | x_b)} (nats), the latent part of the IWAE log weight.
     *
     * @param shape    K, B, L and the row stride of {@code muLogvar}
     * @param muLogvar B x rowStride, [mu | logvar] in columns [0, 2L)
     * @param seed     Philox key
     * @param offset   Philox counter word 2: the caller's step counter, so each step draws fresh noise
     * @param z        output, K x B x L
     * @param kl       output, B; null when not wanted
     * @param logRatio output, K x B; null when not wanted
     */
    public void forward(CudaStream stream, LatentShape shape, DeviceBuffer muLogvar, long seed, int offset,
                        DeviceBuffer z, DeviceBuffer kl, DeviceBuffer logRatio) {
        launchForward(stream, shape, muLogvar, seed, offset, null, z, kl, logRatio);
    }

    /**
     * {@link #forward} with the Philox offset read on the device from {@code offsetSource} when the kernel runs, not
     * passed by value: a training step captured once as a CUDA graph then draws fresh noise at each replay (the
     * offset is the step counter of a {@link DeviceStepState}, {@link DeviceStepState#noiseOffset()}).
     *
     * @param offsetSource 4 bytes: the offset as an unsigned 32-bit word
     */
    public void forward(CudaStream stream, LatentShape shape, DeviceBuffer muLogvar, long seed,
                        DeviceBuffer offsetSource, DeviceBuffer z, DeviceBuffer kl, DeviceBuffer logRatio) {
        checkOffsetSource(offsetSource);
        launchForward(stream, shape, muLogvar, seed, 0, offsetSource, z, kl, logRatio);
    }

    private void launchForward(CudaStream stream, LatentShape shape, DeviceBuffer muLogvar, long seed, int offset,
                               DeviceBuffer offsetSource, DeviceBuffer z, DeviceBuffer kl, DeviceBuffer logRatio) {
        checkForward(stream, shape, muLogvar, z, kl, logRatio);
        int latent = shape.latent();
        DeviceBuffer logvar = logvarColumns(muLogvar, latent);
        boolean vector = vectorLayout(shape, muLogvar, logvar, z);
        int lanesPerRow = teamWidth(vector ? latent / 4 : latent);
        int rowsPerBlock = THREADS / lanesPerRow;
        forward.launch(stream, blocks(shape.sampleShape().rows(), rowsPerBlock), THREADS,
                muLogvar, logvar, shape.rowStride(), shape.batch(), latent, shape.samples(), seed, offset,
                lanesPerRow, z, kl, logRatio, offsetSource);
    }

    /** Checks a device word that holds a Philox offset. */
    private void checkOffsetSource(DeviceBuffer offsetSource) {
        buffer(offsetSource, "offsetSource", "one unsigned 32-bit offset", 1, Integer.BYTES, context);
    }

    /** The checks of {@link #forward}, also made by the unfused baseline. */
    void checkForward(CudaStream stream, LatentShape shape, DeviceBuffer muLogvar, DeviceBuffer z, DeviceBuffer kl,
                      DeviceBuffer logRatio) {
        checkEncoderOutput(stream, shape, muLogvar, "muLogvar");
        long zElements = indexable("z (K x B x L) = " + samplesShape(shape), shape.sampleElements());
        floats(z, "z", "K x B x L = " + samplesShape(shape), zElements, context);
        int batch = shape.batch();
        optionalFloats(kl, "kl", "B = " + batch, batch, context);
        long ratioElements = shape.sampleShape().rows();
        optionalFloats(logRatio, "logRatio", shape.sampleShape().toString(), ratioElements, context);
        long inputBytes = shape.encoderElements() * Float.BYTES;
        disjoint(z, zElements * Float.BYTES, "z", muLogvar, inputBytes, "muLogvar");
        disjoint(kl, (long) batch * Float.BYTES, "kl", muLogvar, inputBytes, "muLogvar");
        disjoint(logRatio, ratioElements * Float.BYTES, "logRatio", muLogvar, inputBytes, "muLogvar");
        disjoint(kl, (long) batch * Float.BYTES, "kl", z, zElements * Float.BYTES, "z");
        disjoint(logRatio, ratioElements * Float.BYTES, "logRatio", z, zElements * Float.BYTES, "z");
        disjoint(kl, (long) batch * Float.BYTES, "kl", logRatio, ratioElements * Float.BYTES, "logRatio");
    }

    /**
     * Backward with the noise regenerated from {@code (seed, offset)}, which must be those of the forward:
     * <pre>
     *   dmu[b][l]     = sum_k dz[k][b][l] + beta * rowWeight * mu
     *   dlogvar[b][l] = 0.5 * sum_k dz[k][b][l] * sigma * eps[k][b][l] + beta * rowWeight * 0.5 * (exp(logvar) - 1)
     * </pre>
     * {@code dz} is dLoss/dz from the decoder's backward (already carrying its row weight).
     *
     * @param shape     K, B, L and the row stride of {@code muLogvar} and {@code dMuLogvar}
     * @param muLogvar  B x rowStride, [mu | logvar] in columns [0, 2L)
     * @param dz        K x B x L
     * @param seed      the forward's Philox key
     * @param offset    the forward's Philox counter word 2
     * @param beta      KL weight: 1 for the ELBO
     * @param rowWeight the KL term's weight of a row in the loss: 1/B for a batch mean
     * @param dMuLogvar output, B x rowStride: columns [0, L) receive dmu, [L, 2L) dlogvar; other columns untouched
     */
    public void backward(CudaStream stream, LatentShape shape, DeviceBuffer muLogvar, DeviceBuffer dz, long seed,
                         int offset, float beta, float rowWeight, DeviceBuffer dMuLogvar) {
        launchBackward(stream, shape, muLogvar, null, dz, seed, offset, null, beta, rowWeight, null, dMuLogvar);
    }

    /**
     * {@link #backward} with the Philox offset read on the device from {@code offsetSource} and a KL weight per latent
     * dimension read from {@code klWeights} in place of {@code beta * rowWeight}:
     * <pre>
     *   dmu[b][l]     = sum_k dz[k][b][l] + klWeights[l] * mu
     *   dlogvar[b][l] = 0.5 * sum_k dz[k][b][l] * sigma * eps[k][b][l] + klWeights[l] * 0.5 * (exp(logvar) - 1)
     * </pre>
     * Both live in device memory and are read when the kernel runs, so a training step captured once as a CUDA graph
     * replays with each step's noise and KL weights (warm-up, free bits: {@link LossTotalsKernels} writes them).
     *
     * @param offsetSource 4 bytes: the forward's offset as an unsigned 32-bit word
     * @param klWeights    L
     */
    public void backward(CudaStream stream, LatentShape shape, DeviceBuffer muLogvar, DeviceBuffer dz, long seed,
                         DeviceBuffer offsetSource, DeviceBuffer klWeights, DeviceBuffer dMuLogvar) {
        checkOffsetSource(offsetSource);
        Objects.requireNonNull(shape, "shape");
        floats(klWeights, "klWeights", "L = " + shape.latent(), shape.latent(), context);
        Objects.requireNonNull(dMuLogvar, "dMuLogvar");
        long gradBytes = shape.encoderElements() * Float.BYTES;
        disjoint(dMuLogvar, gradBytes, "dMuLogvar", klWeights, (long) shape.latent() * Float.BYTES, "klWeights");
        launchBackward(stream, shape, muLogvar, null, dz, seed, 0, offsetSource, 1f, 1f, klWeights, dMuLogvar);
    }

    /**
     * Backward from the forward's saved samples instead of the generator ({@code sigma * eps = z - mu});
     * otherwise as {@link #backward}.
     *
     * @param z the forward's samples, K x B x L
     */
    public void backwardFromSamples(CudaStream stream, LatentShape shape, DeviceBuffer muLogvar, DeviceBuffer z,
                                    DeviceBuffer dz, float beta, float rowWeight, DeviceBuffer dMuLogvar) {
        Objects.requireNonNull(z, "z");
        launchBackward(stream, shape, muLogvar, z, dz, 0L, 0, null, beta, rowWeight, null, dMuLogvar);
    }

    private void launchBackward(CudaStream stream, LatentShape shape, DeviceBuffer muLogvar, DeviceBuffer z,
                                DeviceBuffer dz, long seed, int offset, DeviceBuffer offsetSource, float beta,
                                float rowWeight, DeviceBuffer klWeights, DeviceBuffer dMuLogvar) {
        checkBackward(stream, shape, muLogvar, z, dz, beta, rowWeight, dMuLogvar);
        int latent = shape.latent();
        DeviceBuffer logvar = logvarColumns(muLogvar, latent);
        DeviceBuffer dLogvar = logvarColumns(dMuLogvar, latent);
        boolean vector = vectorLayout(shape, muLogvar, logvar, dz) && dMuLogvar.isAligned(16)
                && dLogvar.isAligned(16) && (z == null || z.isAligned(16));
        long items = (long) shape.batch() * (vector ? latent / 4 : latent);
        backward.launch(stream, blocks(items, THREADS), THREADS,
                muLogvar, logvar, shape.rowStride(), shape.batch(), latent, shape.samples(), seed, offset,
                z, dz, beta, rowWeight, dMuLogvar, dLogvar, shape.rowStride(), offsetSource, klWeights);
    }

    /** The checks of {@link #backward} (z null) and {@link #backwardFromSamples}, also made by the unfused baseline. */
    void checkBackward(CudaStream stream, LatentShape shape, DeviceBuffer muLogvar, DeviceBuffer z, DeviceBuffer dz,
                       float beta, float rowWeight, DeviceBuffer dMuLogvar) {
        checkEncoderOutput(stream, shape, muLogvar, "muLogvar");
        finite(beta, "beta");
        finite(rowWeight, "rowWeight");
        long latentElements = indexable("dz (K x B x L) = " + samplesShape(shape), shape.sampleElements());
        String latentShape = "K x B x L = " + samplesShape(shape);
        floats(dz, "dz", latentShape, latentElements, context);
        optionalFloats(z, "z", latentShape, latentElements, context);
        long encoderElements = shape.encoderElements();
        floats(dMuLogvar, "dMuLogvar", encoderShape(shape), encoderElements, context);
        long gradBytes = encoderElements * Float.BYTES;
        disjoint(dMuLogvar, gradBytes, "dMuLogvar", muLogvar, gradBytes, "muLogvar");
        disjoint(dMuLogvar, gradBytes, "dMuLogvar", dz, latentElements * Float.BYTES, "dz");
        disjoint(dMuLogvar, gradBytes, "dMuLogvar", z, latentElements * Float.BYTES, "z");
    }

    /** Checks the stream and {@code [mu | logvar]} (B x rowStride). */
    private void checkEncoderOutput(CudaStream stream, LatentShape shape, DeviceBuffer muLogvar, String name) {
        Objects.requireNonNull(shape, "shape");
        LaunchChecks.stream(stream, context);
        long encoderElements = indexable(name + " (B x rowStride) = " + render(shape.batch(), shape.rowStride()),
                shape.encoderElements());
        floats(muLogvar, name, encoderShape(shape), encoderElements, context);
    }

    private static String samplesShape(LatentShape shape) {
        return render(shape.samples(), shape.batch(), shape.latent());
    }

    private static String encoderShape(LatentShape shape) {
        return "B x rowStride = " + render(shape.batch(), shape.rowStride());
    }

    /**
     * Lanes per sample row in the forward: the smallest power of two covering the row's work items (4-element
     * groups in the float4 layout, single elements otherwise), at most a warp; the rest loop.
     */
    static int teamWidth(int items) {
        int width = 1;
        while (width < items && width < 32) {
            width <<= 1;
        }
        return width;
    }

    /** The condition under which latent.cu takes its float4 layout (it tests the same itself). */
    private static boolean vectorLayout(LatentShape shape, DeviceBuffer mu, DeviceBuffer logvar,
                                        DeviceBuffer latentTensor) {
        return shape.latent() % 4 == 0 && shape.rowStride() % 4 == 0 && mu.isAligned(16) && logvar.isAligned(16)
                && latentTensor.isAligned(16);
    }

    /**
     * The logvar columns of a {@code [mu | logvar]} matrix (or of its gradient) as the kernels take them: a view
     * that starts L floats in, so the kernel is handed an address inside the buffer, never a computed number.
     */
    static DeviceBuffer logvarColumns(DeviceBuffer muLogvar, int latent) {
        long offset = (long) latent * Float.BYTES;
        return muLogvar.slice(offset, muLogvar.byteSize() - offset);
    }
}
