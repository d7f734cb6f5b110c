package dev.elbo4j.gpu;

import static dev.elbo4j.nn.TrainingRuns.assertGuardSkipsEveryStep;
import static dev.elbo4j.nn.TrainingRuns.assertSameBits;
import static dev.elbo4j.nn.TrainingRuns.randomImages;
import static dev.elbo4j.nn.TrainingRuns.train;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.cpu.CpuTestSupport;
import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.data.Idx;
import dev.elbo4j.gpu.CudaBackend.StepMode;
import dev.elbo4j.nn.Activation;
import dev.elbo4j.nn.AdamSettings;
import dev.elbo4j.nn.BinarizationMode;
import dev.elbo4j.nn.Evaluation;
import dev.elbo4j.nn.Evaluator;
import dev.elbo4j.nn.Likelihood;
import dev.elbo4j.nn.StepStatus;
import dev.elbo4j.nn.Trainer;
import dev.elbo4j.nn.TrainingListener;
import dev.elbo4j.nn.TrainingOptions;
import dev.elbo4j.nn.TrainingRuns.Run;
import dev.elbo4j.nn.Vae;
import dev.elbo4j.nn.VaeSpec;
import dev.elbo4j.reference.TestRandom;

/**
 * The model trained on the CUDA backend (the emulator in CI): a step agrees with the CPU backend's from the same
 * initialization and noise, graph-replayed steps give the bits of direct steps, the same seed gives the same bits,
 * and a planted NaN leaves the parameters and moments untouched. Small models: the emulator is slow.
 */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, CpuTestSupport.class, TestRandom.Extension.class})
class CudaTrainingTest {
    private final CudaContext cuda;
    private final CpuBackend cpu;

    CudaTrainingTest(CudaContext cuda, CpuBackend cpu) {
        this.cuda = cuda;
        this.cpu = cpu;
    }

    private Run trainOnCuda(StepMode mode, VaeSpec spec, Idx.Images images, TrainingOptions options, int epochs) {
        try (CudaBackend backend = CudaBackend.on(cuda, mode)) {
            return train(backend, spec, images, options, epochs);
        }
    }

    /**
     * Models that together take every path of a step: each activation, each likelihood, dynamic binarization, K = 2,
     * warm-up and free bits, AdamW and clipping.
     */
    private static List<VaeSpec> specs(TestRandom random) {
        return List.of(
                VaeSpec.builder(36, 3).encoderHidden(17).seed(random.nextLong()).build(),
                VaeSpec.builder(36, 4).encoderHidden(12, 9).activation(Activation.TANH)
                        .binarization(BinarizationMode.DYNAMIC).samples(2).klWarmupSteps(10).freeBits(0.05f)
                        .seed(random.nextLong()).build(),
                VaeSpec.builder(36, 2).encoderHidden(8).activation(Activation.SILU)
                        .likelihood(Likelihood.GAUSSIAN_PER_DIMENSION).seed(random.nextLong()).build(),
                VaeSpec.builder(36, 3).encoderHidden(10).activation(Activation.LEAKY_RELU)
                        .likelihood(Likelihood.GAUSSIAN_PER_ROW).seed(random.nextLong()).build(),
                VaeSpec.builder(36, 2).likelihood(Likelihood.GAUSSIAN_FIXED).fixedLogVariance(-1f)
                        .seed(random.nextLong()).build());
    }

    @Test
    void aStepOnCudaAgreesWithTheCpuBackendFromTheSameStart(TestRandom random) {
        // One batch of 8 images: an epoch is one step. Adam's epsilon of 1 makes the update (about lr * g for
        // |g| << 1) a smooth function of the gradient, so that the two backends' float differences in the
        // gradients (the order of the GEMMs' sums) stay differences of the same size in the parameters; with the
        // default 1e-8 the first update is lr * sign(g), which flips on rounding wherever a gradient is near 0.
        Idx.Images images = randomImages(random, 8, 6);
        AdamSettings adam = new AdamSettings(0.1f, 0.9f, 0.999f, 1f, 0.01f, true, 50f);
        TrainingOptions options = TrainingOptions.defaults().withBatchSize(8).withAdam(adam);
        for (VaeSpec spec : specs(random)) {
            Run onCpu = train(cpu, spec, images, options, 1);
            Run onCuda = trainOnCuda(StepMode.GRAPH, spec, images, options, 1);
            float[] initial;
            try (Vae vae = Vae.create(spec, cpu)) {
                initial = vae.parameters();
            }
            String where = spec.summary() + " " + spec.binarization();
            assertClose(where + ": parameter changes", difference(onCpu.parameters(), initial),
                    difference(onCuda.parameters(), initial));
            assertClose(where + ": first moments", onCpu.firstMoments(), onCuda.firstMoments());
            StepStatus expected = onCpu.status();
            StepStatus actual = onCuda.status();
            assertEquals(expected.step(), actual.step(), where + ": steps");
            assertEquals(expected.updates(), actual.updates(), where + ": updates");
            assertEquals(expected.cursor(), actual.cursor(), where + ": cursor");
            assertEquals(expected.beta(), actual.beta(), where + ": beta");
            assertScalar(where + ": loss", expected.loss(), actual.loss());
            assertScalar(where + ": ELBO", expected.elbo(), actual.elbo());
            assertScalar(where + ": KL", expected.kl(), actual.kl());
            assertScalar(where + ": gradient norm", expected.gradientNorm(), actual.gradientNorm());
        }
    }

    private static float[] difference(float[] after, float[] before) {
        float[] out = new float[after.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = after[i] - before[i];
        }
        return out;
    }

    /** Within float tolerance of the largest magnitude: {@code 1e-4 max|cpu| + 1e-7} per element. */
    private static void assertClose(String what, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, what + ": length");
        double scale = 0;
        for (float value : expected) {
            scale = Math.max(scale, Math.abs(value));
        }
        assertTrue(scale > 0, what + ": nothing changed");
        for (int i = 0; i < expected.length; i++) {
            if (!(Math.abs(expected[i] - actual[i]) <= 1e-4 * scale + 1e-7)) {
                fail(what + "[" + i + "]: cpu " + expected[i] + ", cuda " + actual[i] + " (largest " + scale + ")");
            }
        }
    }

    private static void assertScalar(String what, float expected, float actual) {
        assertTrue(Float.isFinite(expected), what + " on the CPU: " + expected);
        if (!(Math.abs(expected - actual) <= 1e-5 * Math.abs(expected) + 1e-5)) {
            fail(what + ": cpu " + expected + ", cuda " + actual);
        }
    }

    @Test
    void graphReplayedStepsGiveTheBitsOfDirectSteps(TestRandom random) {
        Idx.Images images = randomImages(random, 30, 6);
        TrainingOptions options = TrainingOptions.defaults().withBatchSize(10).withProgressEvery(2)
                .withAdam(AdamSettings.defaults().withMaxGradNorm(1f));
        for (VaeSpec spec : List.of(specs(random).get(1), specs(random).get(3))) {
            Run direct = trainOnCuda(StepMode.DIRECT, spec, images, options, 2);
            Run graph = trainOnCuda(StepMode.GRAPH, spec, images, options, 2);
            assertSameBits(spec.summary() + ": graph replay vs direct", direct, graph);
            assertEquals(6, graph.status().updates(), "every step applied");
        }
    }

    @Test
    void twoRunsWithTheSameSeedGiveTheSameBits(TestRandom random) {
        Idx.Images images = randomImages(random, 24, 6);
        TrainingOptions options = TrainingOptions.defaults().withBatchSize(8);
        VaeSpec spec = specs(random).get(1);
        Run first = trainOnCuda(StepMode.GRAPH, spec, images, options, 2);
        assertSameBits("a second run", first, trainOnCuda(StepMode.GRAPH, spec, images, options, 2));
        Run otherSeed = trainOnCuda(StepMode.GRAPH, spec.toBuilder().seed(spec.seed() + 1).build(), images, options, 2);
        assertFalse(Arrays.equals(first.parameters(), otherSeed.parameters()), "another seed gives other parameters");
    }

    @Test
    void aPlantedNaNLeavesParametersAndMomentsUntouched(TestRandom random) {
        VaeSpec spec = VaeSpec.builder(16, 2).encoderHidden(8).seed(random.nextLong()).build();
        try (CudaBackend backend = CudaBackend.on(cuda, StepMode.GRAPH)) {
            // In the decoder's output layer (aNaNInTheFirstEncoderLayerIsCaughtByTheGuard plants one in the first).
            assertGuardSkipsEveryStep(backend, spec, randomImages(random, 32, 4), "decoder.1.weight",
                    random.nextInt(16), 3);
        }
    }

    /**
     * A NaN in the first encoder layer's weights reaches the loss through the ReLU (the kernel keeps NaN, as PyTorch
     * does, where {@code a > 0 ? a : 0} dropped it), so the guard skips every step: parameters and moments unchanged.
     */
    @Test
    void aNaNInTheFirstEncoderLayerIsCaughtByTheGuard(TestRandom random) {
        VaeSpec spec = VaeSpec.builder(16, 2).encoderHidden(8).seed(random.nextLong()).build();
        try (CudaBackend backend = CudaBackend.on(cuda, StepMode.GRAPH)) {
            assertGuardSkipsEveryStep(backend, spec, randomImages(random, 32, 4), "encoder.0.weight",
                    random.nextInt(8 * 16), 3);
        }
    }

    @Test
    void anEvaluationOnCudaAgreesWithTheCpu(TestRandom random) {
        Idx.Images images = randomImages(random, 40, 5);
        VaeSpec spec = VaeSpec.builder(25, 3).encoderHidden(12).seed(random.nextLong()).build();
        float[] parameters;
        try (Vae vae = Vae.create(spec, cpu);
             Trainer trainer = Trainer.create(vae, images, TrainingOptions.defaults().withBatchSize(10))) {
            trainer.train(2, new TrainingListener() {
            });
            parameters = vae.parameters();
        }
        Evaluator.Options options = new Evaluator.Options(16, 30, 300);
        Evaluation onCpu;
        try (Vae vae = Vae.withParameters(spec, cpu, parameters)) {
            onCpu = Evaluator.evaluate(vae, images, options);
        }
        Evaluation onCuda;
        try (CudaBackend backend = CudaBackend.on(cuda, StepMode.GRAPH);
             Vae vae = Vae.withParameters(spec, backend, parameters)) {
            onCuda = Evaluator.evaluate(vae, images, options);
        }
        assertEquals(onCpu.rows(), onCuda.rows());
        assertEquals(onCpu.elbo(), onCuda.elbo(), 1e-5 * Math.abs(onCpu.elbo()), "ELBO");
        assertEquals(onCpu.iwaeLogPx(), onCuda.iwaeLogPx(), 1e-5 * Math.abs(onCpu.iwaeLogPx()), "IWAE");
        assertEquals(onCpu.kl(), onCuda.kl(), 1e-5 * Math.abs(onCpu.kl()) + 1e-6, "KL");
        assertEquals(onCpu.activeUnits(), onCuda.activeUnits(), "active units");
    }

    @Test
    void decodingGivenLatentPointsOnCudaAgreesWithTheCpu(TestRandom random) {
        VaeSpec spec = VaeSpec.builder(20, 3).encoderHidden(12).seed(random.nextLong()).build();
        int count = 7;
        float[] z = random.normals(count * 3, 2.0);
        float[] onCpu;
        try (Vae vae = Vae.create(spec, cpu)) {
            onCpu = Evaluator.decode(vae, z, count);
        }
        float[] onCuda;
        try (CudaBackend backend = CudaBackend.on(cuda, StepMode.GRAPH); Vae vae = Vae.create(spec, backend)) {
            onCuda = Evaluator.decode(vae, z, count);
        }
        assertEquals(onCpu.length, onCuda.length);
        for (int i = 0; i < onCpu.length; i++) {
            assertEquals(onCpu[i], onCuda[i], 1e-6 + 1e-5 * Math.abs(onCpu[i]), "element " + i);
        }
    }
}
