package dev.elbo4j.nn;

import static dev.elbo4j.nn.TrainingRuns.assertGuardSkipsEveryStep;
import static dev.elbo4j.nn.TrainingRuns.assertSameBits;
import static dev.elbo4j.nn.TrainingRuns.randomImages;
import static dev.elbo4j.nn.TrainingRuns.train;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.cpu.CpuTestSupport;
import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.data.Idx;
import dev.elbo4j.data.ImageDataset;
import dev.elbo4j.io.Checkpoint;
import dev.elbo4j.nn.TrainingRuns.Run;
import dev.elbo4j.reference.Bernoulli;
import dev.elbo4j.reference.Dense;
import dev.elbo4j.reference.Reparameterization;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.LatentShape;

/**
 * Training on the CPU backend: the loss falls on real Fashion-MNIST images, runs are bit-reproducible, a run
 * resumed from a checkpoint continues bit-identically, the non-finite guard leaves the parameters untouched, and
 * the evaluation's numbers hang together.
 */
@ExtendWith({CpuTestSupport.class, TestRandom.Extension.class})
class TrainingTest {
    /** Debian's dataset-fashion-mnist installs here; CI installs it (.ci/run). */
    static final Path FASHION_MNIST = Path.of("/usr/share/datasets/fashion-mnist");

    private final CpuBackend backend;

    TrainingTest(CpuBackend backend) {
        this.backend = backend;
    }

    /** The first {@code count} training images of Fashion-MNIST; the test is skipped, saying why, when absent. */
    static Idx.Images fashionMnist(int count) throws IOException {
        if (!Files.isDirectory(FASHION_MNIST)) {
            String reason = "Fashion-MNIST is not installed at " + FASHION_MNIST
                    + " (apt-get install dataset-fashion-mnist)";
            System.out.println("SKIPPED: " + reason);
            Assumptions.abort(reason);
        }
        Idx.Images all = ImageDataset.load(FASHION_MNIST, ImageDataset.Split.TRAIN).images();
        int pixels = all.pixelsPerImage();
        return new Idx.Images(count, all.rows(), all.columns(), Arrays.copyOf(all.pixels(), count * pixels));
    }

    @Test
    void theLossFallsOverAHundredStepsOnFashionMnist() throws IOException {
        Idx.Images images = fashionMnist(400);
        VaeSpec spec = VaeSpec.builder(784, 20).encoderHidden(400).seed(7).build();
        List<Double> epochLosses = new ArrayList<>();
        try (Vae vae = Vae.create(spec, backend);
             Trainer trainer = Trainer.create(vae, images, TrainingOptions.defaults().withBatchSize(40))) {
            assertEquals(10, trainer.stepsPerEpoch());
            trainer.train(10, new TrainingListener() {
                @Override
                public void onEpochEnd(EpochResult result) {
                    epochLosses.add(result.trainLoss());
                }
            });
            assertEquals(100, trainer.status().step());
            assertEquals(100, trainer.status().updates());
        }
        System.out.println("mean training loss per epoch (nats): " + epochLosses);
        double first = epochLosses.getFirst();
        double last = epochLosses.getLast();
        // From ~540 nats (random decoder) to well under 400 within 100 Adam steps.
        assertTrue(last < 0.75 * first, "the loss fell from " + first + " only to " + last);
        for (double loss : epochLosses) {
            assertTrue(Double.isFinite(loss), epochLosses.toString());
        }
    }

    @ParameterizedTest
    @EnumSource(BinarizationMode.class)
    void twoRunsWithTheSameSeedAreBitIdentical(BinarizationMode binarization, TestRandom random) {
        Idx.Images images = randomImages(random, 96, 6);
        VaeSpec spec = VaeSpec.builder(36, 3).encoderHidden(17).binarization(binarization).samples(2)
                .klWarmupSteps(5).seed(random.nextLong()).build();
        TrainingOptions options = TrainingOptions.defaults().withBatchSize(16);
        Run first = train(backend, spec, images, options, 3);
        assertSameBits("a second run", first, train(backend, spec, images, options, 3));
        Run otherSeed = train(backend, spec.toBuilder().seed(spec.seed() + 1).build(), images, options, 3);
        assertFalse(Arrays.equals(first.parameters(), otherSeed.parameters()), "another seed gives other parameters");
    }

    @Test
    void aRunResumedFromACheckpointEqualsAnUninterruptedOne(TestRandom random, @TempDir Path folder)
            throws IOException {
        Idx.Images images = randomImages(random, 100, 5);
        VaeSpec spec = VaeSpec.builder(25, 4).encoderHidden(9, 7).activation(Activation.SILU)
                .likelihood(Likelihood.GAUSSIAN_PER_DIMENSION).freeBits(0.1f).seed(random.nextLong()).build();
        TrainingOptions options = TrainingOptions.defaults().withBatchSize(12).withProgressEvery(1)
                .withAdam(AdamSettings.defaults().withMaxGradNorm(5f));
        List<Double> uninterruptedEpochs = new ArrayList<>();
        float[] uninterrupted;
        TrainingState uninterruptedState;
        try (Vae vae = Vae.create(spec, backend); Trainer trainer = Trainer.create(vae, images, options)) {
            trainer.train(3, new TrainingListener() {
                @Override
                public void onEpochEnd(EpochResult result) {
                    uninterruptedEpochs.add(result.trainElbo());
                }
            });
            uninterrupted = vae.parameters();
            uninterruptedState = trainer.state();
        }

        Path checkpoint = folder.resolve("run.safetensors");
        try (Vae vae = Vae.create(spec, backend); Trainer trainer = Trainer.create(vae, images, options)) {
            boolean finished = trainer.train(3, new TrainingListener() {
                @Override
                public void onProgress(Progress progress) {
                    if (progress.epoch() == 2 && progress.stepInEpoch() == 3) {
                        trainer.requestStop();
                    }
                }
            });
            assertFalse(finished);
            Checkpoint.save(checkpoint, vae, trainer.state(), options.adam());
        }
        List<Double> resumedEpochs = new ArrayList<>();
        Checkpoint.Contents contents = Checkpoint.load(checkpoint);
        assertEquals(spec, contents.spec());
        assertEquals(options.adam(), contents.adam().orElseThrow());
        TrainingState saved = contents.training().orElseThrow();
        assertEquals(1, saved.epoch());
        assertEquals(3, saved.stepInEpoch());
        try (Vae vae = contents.toVae(backend);
             Trainer trainer = Trainer.resume(vae, images, options, saved)) {
            assertTrue(trainer.train(3, new TrainingListener() {
                @Override
                public void onEpochEnd(EpochResult result) {
                    resumedEpochs.add(result.trainElbo());
                }
            }));
            assertArrayEquals(uninterrupted, vae.parameters(), "parameters");
            TrainingState state = trainer.state();
            assertArrayEquals(uninterruptedState.firstMoments(), state.firstMoments(), "first moments");
            assertArrayEquals(uninterruptedState.secondMoments(), state.secondMoments(), "second moments");
            assertEquals(uninterruptedState.status(), state.status());
        }
        // The interrupted epoch's mean ELBO includes the steps before the interruption.
        assertEquals(uninterruptedEpochs.subList(1, 3), resumedEpochs);
    }

    @Test
    void theGuardLeavesParametersAndMomentsUntouchedAndStopsAfterTheLimit(TestRandom random) {
        VaeSpec spec = VaeSpec.builder(16, 2).encoderHidden(8).seed(random.nextLong()).build();
        assertGuardSkipsEveryStep(backend, spec, randomImages(random, 64, 4), "decoder.0.weight", 3, 4);
    }

    /**
     * A NaN in the first encoder layer's weights reaches the loss through the ReLU (NaN stays NaN, as in PyTorch), so
     * the guard skips every step: parameters and moments unchanged, the skips counted.
     */
    @Test
    void aNaNInTheFirstEncoderLayerIsCaughtByTheGuard(TestRandom random) {
        VaeSpec spec = VaeSpec.builder(16, 2).encoderHidden(8).seed(random.nextLong()).build();
        assertGuardSkipsEveryStep(backend, spec, randomImages(random, 32, 4), "encoder.0.weight",
                random.nextInt(8 * 16), 3);
    }

    @Test
    void theEvaluationsNumbersHangTogether(TestRandom random) throws IOException {
        Idx.Images images = randomImages(random, 120, 5);
        VaeSpec spec = VaeSpec.builder(25, 3).encoderHidden(12).seed(random.nextLong()).build();
        try (Vae vae = Vae.create(spec, backend);
             Trainer trainer = Trainer.create(vae, images, TrainingOptions.defaults().withBatchSize(20))) {
            trainer.train(5, new TrainingListener() {
            });
            Evaluator.Options options = new Evaluator.Options(32, 200, 700);
            Evaluation evaluation = Evaluator.evaluate(vae, images, options);
            assertEquals(120, evaluation.rows());
            assertEquals(evaluation.reconstruction() - evaluation.kl(), evaluation.elbo(), 1e-6);
            assertEquals(evaluation.kl(), Arrays.stream(evaluation.klPerDimension()).sum(), 1e-4);
            assertTrue(evaluation.activeUnits() >= 0 && evaluation.activeUnits() <= 3);
            // IWAE-200 is a tighter bound than the ELBO (up to Monte Carlo noise in the ELBO's one sample).
            assertTrue(evaluation.iwaeLogPx() > evaluation.elbo() - 1.0, evaluation.toString());
            assertEquals(evaluation.iwaeLogPx() - evaluation.elbo(), evaluation.gap(), 1e-9);
            Evaluation again = Evaluator.evaluate(vae, images, options);
            assertEquals(evaluation.elbo(), again.elbo(), "an evaluation is deterministic");
            assertEquals(evaluation.iwaeLogPx(), again.iwaeLogPx(), "an evaluation is deterministic");
            assertArrayEquals(evaluation.klPerDimension(), again.klPerDimension());
            float[] reconstructions = Evaluator.reconstruct(vae, Arrays.copyOf(images.pixels(), 3 * 25), 3);
            float[] samples = Evaluator.sample(vae, 4, 11);
            assertEquals(75, reconstructions.length);
            assertEquals(100, samples.length);
            for (float value : reconstructions) {
                assertTrue(value >= 0 && value <= 1, "a Bernoulli mean in [0, 1]: " + value);
            }
            assertArrayEquals(samples, Evaluator.sample(vae, 4, 11));
            assertNotEquals(Arrays.toString(samples), Arrays.toString(Evaluator.sample(vae, 4, 12)));
        }
    }

    /**
     * {@link Evaluator#decode} is the decoder of the reference layers at the given points (and the likelihood's mean),
     * and decoding the prior's Philox normals gives {@link Evaluator#sample}.
     */
    @ParameterizedTest
    @EnumSource(value = Likelihood.class, names = {"BERNOULLI", "GAUSSIAN_PER_ROW"})
    void decodeIsTheReferenceDecoderAtTheGivenPoints(Likelihood likelihood, TestRandom random) {
        VaeSpec spec = VaeSpec.builder(20, 3).encoderHidden(12, 7).activation(Activation.TANH).likelihood(likelihood)
                .seed(random.nextLong()).build();
        try (Vae vae = Vae.create(spec, backend)) {
            int count = 9;
            float[] z = random.normals(count * 3, 2.0);
            // Float32 GEMMs against the reference's double sums over a few terms: 1e-5 relative, 1e-6 absolute.
            BackendTesting.assertWithin(referenceDecode(vae, z, count), Evaluator.decode(vae, z, count), null, 1e-6,
                    "decode", random);

            long seed = random.nextLong();
            float[] prior = new float[count * 3];
            Reparameterization.forward(LatentShape.of(count, 3), new float[count * 6], seed, 0, prior,
                    new float[count]);
            BackendTesting.assertWithin(Evaluator.sample(vae, count, seed), Evaluator.decode(vae, prior, count),
                    null, 1e-6, "decode of the prior's noise", random);

            IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class,
                    () -> Evaluator.decode(vae, new float[10], 3));
            assertEquals("10 values are not 3 latent points of L = 3", wrong.getMessage());
        }
    }

    /** The likelihood's mean of the decoder at {@code z}, on the host with the reference layers ({@link Dense}). */
    static float[] referenceDecode(Vae vae, float[] z, int count) {
        float[] parameters = vae.parameters();
        float[] x = z;
        for (ParameterLayout.Layer layer : vae.layout().decoder()) {
            float[] y = new float[count * layer.outputs()];
            Dense.forward(layer.shape(count), x, slice(parameters, layer.weight()), slice(parameters, layer.bias()),
                    layer.activation(), null, y);
            x = y;
        }
        if (vae.spec().likelihood() == Likelihood.BERNOULLI) {
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) Bernoulli.sigmoid(x[i]);
            }
        }
        return x;
    }

    private static float[] slice(float[] flat, ParameterLayout.Tensor tensor) {
        return Arrays.copyOfRange(flat, (int) tensor.offset(), (int) (tensor.offset() + tensor.size()));
    }

    @Test
    void badSpecsAndMismatchesAreRefusedClearly(TestRandom random) {
        IllegalArgumentException latent = assertThrows(IllegalArgumentException.class,
                () -> VaeSpec.builder(784, 0).build());
        assertEquals("latent (L) must be at least 1 but is 0", latent.getMessage());
        IllegalArgumentException hidden = assertThrows(IllegalArgumentException.class,
                () -> VaeSpec.builder(784, 20).encoderHidden(400, -1).build());
        assertTrue(hidden.getMessage().contains("encoder hidden size must be at least 1 but is -1"));
        IllegalArgumentException binarize = assertThrows(IllegalArgumentException.class,
                () -> VaeSpec.builder(784, 20).likelihood(Likelihood.GAUSSIAN_FIXED)
                        .binarization(BinarizationMode.DYNAMIC).build());
        assertTrue(binarize.getMessage().contains("for a Bernoulli likelihood"), binarize.getMessage());
        VaeSpec tf32 = VaeSpec.builder(16, 2).precision(GemmPrecision.TF32).build();
        IllegalArgumentException precision = assertThrows(IllegalArgumentException.class,
                () -> Vae.create(tf32, backend));
        assertTrue(precision.getMessage().contains("TF32 is not available on cpu"), precision.getMessage());
        try (Vae vae = Vae.create(VaeSpec.builder(16, 2).build(), backend)) {
            IllegalArgumentException size = assertThrows(IllegalArgumentException.class,
                    () -> Trainer.create(vae, randomImages(random, 10, 5), TrainingOptions.defaults()));
            assertTrue(size.getMessage().contains("5 x 5 = 25 pixels but the model expects D = 16"),
                    size.getMessage());
            IllegalArgumentException few = assertThrows(IllegalArgumentException.class,
                    () -> Trainer.create(vae, randomImages(random, 10, 4), TrainingOptions.defaults()));
            assertTrue(few.getMessage().contains("fewer than one batch of 128"), few.getMessage());
        }
    }

    /** A closed model says so, whichever way it is used next (not "source is closed" from a buffer). */
    @Test
    void aClosedModelRefusesEveryUseNamingItself(TestRandom random) {
        Idx.Images images = randomImages(random, 32, 4);
        Vae vae = Vae.create(VaeSpec.builder(16, 2).encoderHidden(8).build(), backend);
        vae.close();
        assertTrue(vae.isClosed());
        String closed = "the model 16-8-2-8-16 RELU BERNOULLI is closed";
        assertEquals(closed, assertThrows(IllegalStateException.class, vae::parameters).getMessage());
        assertEquals(closed, assertThrows(IllegalStateException.class,
                () -> vae.setParameters(new float[(int) vae.layout().totalFloats()])).getMessage());
        assertEquals(closed, assertThrows(IllegalStateException.class,
                () -> Trainer.create(vae, images, TrainingOptions.defaults().withBatchSize(8))).getMessage());
        assertEquals(closed, assertThrows(IllegalStateException.class,
                () -> Evaluator.evaluate(vae, images, Evaluator.Options.defaults())).getMessage());
        assertEquals(closed, assertThrows(IllegalStateException.class,
                () -> Evaluator.sample(vae, 2, 0)).getMessage());
    }

    @Test
    void theDecoderMirrorsTheEncoderAndTheLayoutNamesAreStable() {
        VaeSpec spec = VaeSpec.builder(784, 20).encoderHidden(512, 256).likelihood(Likelihood.GAUSSIAN_PER_ROW)
                .build();
        assertEquals(List.of(256, 512), spec.decoderHidden());
        ParameterLayout layout = ParameterLayout.of(spec);
        assertEquals(List.of("encoder.0.weight", "encoder.0.bias", "encoder.1.weight", "encoder.1.bias",
                "encoder.2.weight", "encoder.2.bias", "decoder.0.weight", "decoder.0.bias", "decoder.1.weight",
                "decoder.1.bias", "decoder.2.weight", "decoder.2.bias", "decoder.logvar.weight",
                "decoder.logvar.bias"), List.copyOf(layout.tensors().keySet()));
        assertEquals(List.of(40, 256), layout.tensors().get("encoder.2.weight").shape());
        assertEquals(List.of(784, 512), layout.tensors().get("decoder.logvar.weight").shape());
        for (ParameterLayout.Tensor tensor : layout.tensors().values()) {
            assertEquals(0, tensor.offset() % ParameterLayout.ALIGNMENT, tensor.name());
        }
    }
}
