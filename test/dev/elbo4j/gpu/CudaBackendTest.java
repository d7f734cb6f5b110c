package dev.elbo4j.gpu;

import static dev.elbo4j.nn.BackendTesting.download;
import static dev.elbo4j.nn.BackendTesting.upload;
import static dev.elbo4j.nn.TrainingRuns.assertSameBits;
import static dev.elbo4j.nn.TrainingRuns.bits;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.gpu.CudaBackend.StepMode;
import dev.elbo4j.nn.Activation;
import dev.elbo4j.nn.AdamSettings;
import dev.elbo4j.nn.Backend;
import dev.elbo4j.nn.Backend.Floats;
import dev.elbo4j.nn.BackendTesting;
import dev.elbo4j.nn.KlSchedule;
import dev.elbo4j.nn.StepStatus;
import dev.elbo4j.nn.TrainingRuns.Run;
import dev.elbo4j.reference.Dense;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.DenseShape;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;

/**
 * The CUDA backend's own wiring (the kernels under it have their own tests): buffers, a dense layer's forward and
 * backward through cuBLAS and the kernels against the reference, and a whole training step of a small VAE built
 * from the backend's operations, run directly and as a replayed CUDA graph: the same bits either way, and again
 * from the same start.
 */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, TestRandom.Extension.class})
class CudaBackendTest {
    private final CudaContext cuda;

    CudaBackendTest(CudaContext cuda) {
        this.cuda = cuda;
    }

    @Test
    void buffersStartZeroedAndViewsShareTheirMemory(TestRandom random) {
        try (CudaBackend backend = CudaBackend.on(cuda, StepMode.DIRECT)) {
            Floats buffer = backend.allocateFloats(10);
            assertArrayEquals(new float[10], download(backend, buffer), "a new buffer is zero");
            float[] values = random.normals(4, 1.0);
            backend.upload(values, buffer.slice(3, 4));
            float[] whole = download(backend, buffer);
            assertArrayEquals(values, Arrays.copyOfRange(whole, 3, 7));
            assertEquals(0f, whole[2]);
            assertEquals(0f, whole[7]);
            assertThrows(IllegalArgumentException.class, () -> buffer.slice(8, 3));
            assertThrows(IllegalArgumentException.class, () -> backend.allocateFloats(0));
            buffer.close();
            IllegalStateException closed = assertThrows(IllegalStateException.class,
                    () -> backend.download(buffer, new float[10]));
            assertTrue(closed.getMessage().contains("closed"), closed.getMessage());
        }
    }

    @Test
    void buffersOfAnotherBackendAreRefused() {
        try (CudaBackend first = CudaBackend.on(cuda, StepMode.DIRECT);
             CudaBackend second = CudaBackend.on(cuda, StepMode.DIRECT)) {
            Floats foreign = second.allocateFloats(4);
            IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                    () -> first.upload(new float[4], foreign));
            assertTrue(refused.getMessage().contains("not a Floats buffer of this CUDA backend"), refused.getMessage());
            Backend.StepState state = second.allocateState();
            assertThrows(IllegalArgumentException.class, () -> first.readState(state));
        }
    }

    @ParameterizedTest
    @EnumSource(Activation.class)
    void aDenseLayerMatchesTheReference(Activation activation, TestRandom random) {
        for (DenseShape shape : new DenseShape[] {new DenseShape(1, 1, 1), new DenseShape(37, 19, 23),
                new DenseShape(300, 8, 12)}) {
            try (CudaBackend backend = CudaBackend.on(cuda, StepMode.DIRECT)) {
                BackendTesting.assertDenseLayerMatchesTheReference(backend, shape, activation, random);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ a whole step

    /**
     * A VAE with no hidden layers (D -> [mu | logvar] -> D, Bernoulli, dynamically binarized data) trained from
     * fixed parameters: its step is the backend's whole sequence (gather, GEMMs, bias, latent forward and backward,
     * loss, totals, norm, guarded Adam, advance), and every value that changes per step comes from the step state.
     */
    private static final class TinyVae implements AutoCloseable {
        static final int DIMS = 12;
        static final int LATENT = 3;
        static final int BATCH = 5;
        static final int ROWS = 23;
        static final long SEED = 0x5EED_CAFEL;
        // Flat layout: encoder weight (2L x D), encoder bias (2L), decoder weight (D x L), decoder bias (D).
        static final int ENCODER_WEIGHT = 0;
        static final int ENCODER_BIAS = ENCODER_WEIGHT + 2 * LATENT * DIMS;
        static final int DECODER_WEIGHT = ENCODER_BIAS + 2 * LATENT;
        static final int DECODER_BIAS = DECODER_WEIGHT + DIMS * LATENT;
        static final int PARAMETERS = DECODER_BIAS + DIMS;

        final Backend backend;
        final Backend.Bytes data;
        final Backend.Ints order;
        final Backend.StepState state;
        final Floats parameters;
        final Floats gradients;
        final Floats firstMoments;
        final Floats secondMoments;
        final Floats x;
        final Floats muLogvar;
        final Floats z;
        final Floats kl;
        final Floats logits;
        final Floats logProb;
        final Floats klWeights;
        final Floats dLogits;
        final Floats dz;
        final Floats dMuLogvar;
        final DenseShape encoder = new DenseShape(BATCH, DIMS, 2 * LATENT);
        final DenseShape decoder = new DenseShape(BATCH, LATENT, DIMS);
        final LatentShape latent = LatentShape.of(BATCH, LATENT);
        final LikelihoodShape likelihood = LikelihoodShape.of(BATCH, DIMS);
        final KlSchedule schedule = new KlSchedule(1f, 3, 0.05f);
        final AdamSettings adam = AdamSettings.defaults().withLearningRate(1e-2f).withMaxGradNorm(5f);

        TinyVae(Backend backend, byte[] pixels, int[] permutation, float[] initial) {
            this.backend = backend;
            data = backend.allocateBytes(pixels.length);
            backend.upload(pixels, data);
            order = backend.allocateInts(permutation.length);
            backend.upload(permutation, order);
            state = backend.allocateState();
            parameters = upload(backend, initial);
            gradients = backend.allocateFloats(PARAMETERS);
            firstMoments = backend.allocateFloats(PARAMETERS);
            secondMoments = backend.allocateFloats(PARAMETERS);
            x = backend.allocateFloats(BATCH * DIMS);
            muLogvar = backend.allocateFloats(BATCH * 2 * LATENT);
            z = backend.allocateFloats(BATCH * LATENT);
            kl = backend.allocateFloats(BATCH);
            logits = backend.allocateFloats(BATCH * DIMS);
            logProb = backend.allocateFloats(BATCH);
            klWeights = backend.allocateFloats(LATENT);
            dLogits = backend.allocateFloats(BATCH * DIMS);
            dz = backend.allocateFloats(BATCH * LATENT);
            dMuLogvar = backend.allocateFloats(BATCH * 2 * LATENT);
        }

        Floats parameter(int offset, int count) {
            return parameters.slice(offset, count);
        }

        Floats gradient(int offset, int count) {
            return gradients.slice(offset, count);
        }

        void step() {
            backend.gatherRows(data, DIMS, order, state, BATCH, true, SEED, x);
            backend.gemm(GemmPrecision.FP32, false, true, BATCH, 2 * LATENT, DIMS, 1f, x, DIMS,
                    parameter(ENCODER_WEIGHT, 2 * LATENT * DIMS), DIMS, 0f, muLogvar, 2 * LATENT);
            backend.biasActivation(encoder, parameter(ENCODER_BIAS, 2 * LATENT), Activation.IDENTITY, muLogvar,
                    muLogvar);
            backend.latentForward(latent, muLogvar, SEED, state, z, kl, null);
            backend.gemm(GemmPrecision.FP32, false, true, BATCH, DIMS, LATENT, 1f, z, LATENT,
                    parameter(DECODER_WEIGHT, DIMS * LATENT), LATENT, 0f, logits, DIMS);
            backend.biasActivation(decoder, parameter(DECODER_BIAS, DIMS), Activation.IDENTITY, logits, logits);
            backend.bernoulliLoss(likelihood, logits, x, 1f / BATCH, logProb, dLogits);
            backend.lossTotals(state, schedule, latent, muLogvar, logProb, kl, klWeights);
            backend.gemm(GemmPrecision.FP32, true, false, DIMS, LATENT, BATCH, 1f, dLogits, DIMS, z, LATENT, 0f,
                    gradient(DECODER_WEIGHT, DIMS * LATENT), LATENT);
            backend.biasGradient(decoder, dLogits, gradient(DECODER_BIAS, DIMS));
            backend.gemm(GemmPrecision.FP32, false, false, BATCH, LATENT, DIMS, 1f, dLogits, DIMS,
                    parameter(DECODER_WEIGHT, DIMS * LATENT), LATENT, 0f, dz, LATENT);
            backend.latentBackward(latent, muLogvar, dz, SEED, state, klWeights, dMuLogvar);
            backend.gemm(GemmPrecision.FP32, true, false, 2 * LATENT, DIMS, BATCH, 1f, dMuLogvar, 2 * LATENT, x, DIMS,
                    0f, gradient(ENCODER_WEIGHT, 2 * LATENT * DIMS), DIMS);
            backend.biasGradient(encoder, dMuLogvar, gradient(ENCODER_BIAS, 2 * LATENT));
            backend.gradientNorm(gradients, state);
            backend.adam(adam, state, parameters, gradients, firstMoments, secondMoments);
            backend.advance(state, BATCH);
        }

        /** The parameters, both moments and the state after {@code steps} steps of the compiled step. */
        Run train(int steps) {
            Runnable compiled = backend.compileStep(this::step);
            for (int i = 0; i < steps; i++) {
                compiled.run();
            }
            return new Run(download(backend, parameters), download(backend, firstMoments),
                    download(backend, secondMoments), backend.readState(state));
        }

        @Override
        public void close() {
            state.close();
            for (Backend.Buffer buffer : new Backend.Buffer[] {data, order, parameters, gradients, firstMoments,
                    secondMoments, x, muLogvar, z, kl, logits, logProb, klWeights, dLogits, dz, dMuLogvar}) {
                buffer.close();
            }
        }
    }

    private record Inputs(byte[] pixels, int[] order, float[] initial) {
        static Inputs random(TestRandom random) {
            int[] order = new int[TinyVae.ROWS];
            for (int i = 0; i < order.length; i++) {
                order[i] = (i * 7) % TinyVae.ROWS;
            }
            return new Inputs(random.pixels(TinyVae.ROWS * TinyVae.DIMS), order,
                    random.uniforms(TinyVae.PARAMETERS, -0.3, 0.3));
        }
    }

    private Run train(StepMode mode, Inputs inputs, int steps) {
        try (CudaBackend backend = CudaBackend.on(cuda, mode);
             TinyVae vae = new TinyVae(backend, inputs.pixels(), inputs.order(), inputs.initial())) {
            return vae.train(steps);
        }
    }

    @Test
    void replayedGraphStepsGiveTheBitsOfDirectSteps(TestRandom random) {
        Inputs inputs = Inputs.random(random);
        int steps = 4;
        Run direct = train(StepMode.DIRECT, inputs, steps);
        Run graph = train(StepMode.GRAPH, inputs, steps);
        assertSameBits("graph replay vs direct", direct, graph);
        StepStatus status = graph.status();
        assertEquals(steps, status.step(), "steps");
        assertEquals(steps, status.updates(), "every step applied");
        assertEquals((long) steps * TinyVae.BATCH, status.cursor(), "cursor");
        assertEquals(1f, status.beta(), "beta after the 3-step warm-up");
        assertTrue(Float.isFinite(status.loss()) && Float.isFinite(status.gradientNorm()), status.toString());
        assertNotEquals(Arrays.toString(inputs.initial()), Arrays.toString(graph.parameters()), "the steps trained");
    }

    /**
     * {@link BackendTesting#assertNaNPreActivationStaysNaN} (CUDA's {@code fmaxf} and {@code a > 0 ? a : 0} would drop
     * the NaN) on the kernels' scalar (7 columns) and float4 (8) paths.
     */
    @ParameterizedTest
    @EnumSource(Activation.class)
    void aNaNPreActivationStaysNaNThroughEveryActivation(Activation activation, TestRandom random) {
        try (CudaBackend backend = CudaBackend.on(cuda, StepMode.DIRECT)) {
            for (int outputs : new int[] {7, 8}) {
                BackendTesting.assertNaNPreActivationStaysNaN(backend, activation, outputs, random);
            }
        }
    }

    @Test
    void twoRunsFromTheSameStartGiveTheSameBits(TestRandom random) {
        Inputs inputs = Inputs.random(random);
        assertSameBits("second run", train(StepMode.GRAPH, inputs, 3), train(StepMode.GRAPH, inputs, 3));
    }

    @Test
    void aPlantedNaNLeavesTheParametersAndIsCounted(TestRandom random) {
        Inputs inputs = Inputs.random(random);
        float[] poisoned = inputs.initial().clone();
        poisoned[TinyVae.DECODER_BIAS + random.nextInt(TinyVae.DIMS)] = Float.NaN;
        try (CudaBackend backend = CudaBackend.on(cuda, StepMode.GRAPH);
             TinyVae vae = new TinyVae(backend, inputs.pixels(), inputs.order(), poisoned)) {
            Run result = vae.train(3);
            assertArrayEquals(bits(poisoned), bits(result.parameters()), "parameters after skipped steps");
            assertArrayEquals(new float[TinyVae.PARAMETERS], result.firstMoments(), "first moments stay 0");
            StepStatus status = result.status();
            assertEquals(3, status.skipped(), "skipped");
            assertEquals(3, status.skippedInARow(), "skipped in a row");
            assertEquals(0, status.updates(), "updates");
            assertEquals(3, status.step(), "the steps still advance");
        }
    }
}
