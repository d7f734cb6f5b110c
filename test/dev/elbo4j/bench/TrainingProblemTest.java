package dev.elbo4j.bench;

import static dev.elbo4j.nn.TrainingRuns.randomImages;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.cpu.CpuTestSupport;
import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.data.Idx;
import dev.elbo4j.nn.Trainer;
import dev.elbo4j.nn.TrainingOptions;
import dev.elbo4j.nn.Vae;
import dev.elbo4j.nn.VaeSpec;
import dev.elbo4j.reference.TestRandom;

/**
 * What the training benchmarks take apart is the step the trainer runs: a replay of the recorded operations computes
 * the same bits as the step, the recorded GEMMs are exactly the model's matrix products, and the benchmark's data
 * and rows are what they say.
 */
@ExtendWith({CpuTestSupport.class, TestRandom.Extension.class})
class TrainingProblemTest {
    private static final int BATCH = 8;
    private final CpuBackend backend;

    TrainingProblemTest(CpuBackend backend) {
        this.backend = backend;
    }

    @Test
    void replayingTheRecordedOperationsComputesTheStep(TestRandom random) {
        Idx.Images images = randomImages(random, 48, 8);
        VaeSpec spec = TrainingProblem.spec("64-16-4", GemmPrecision.FP32);
        TrainingOptions options = TrainingOptions.defaults().withBatchSize(BATCH);
        RecordingBackend recorded = new RecordingBackend(backend);
        RecordingBackend plain = new RecordingBackend(backend);
        try (Vae vaeA = Vae.create(spec, recorded); Trainer trainerA = Trainer.create(vaeA, images, options);
             Vae vaeB = Vae.create(spec, plain); Trainer trainerB = Trainer.create(vaeB, images, options)) {
            // A: one step recorded, the second by replaying its operations; B: two steps.
            List<RecordingBackend.Operation> operations = recorded.record(recorded.stepAsWritten());
            operations.forEach(operation -> operation.call().run());
            plain.stepAsWritten().run();
            plain.stepAsWritten().run();

            assertEquals(2, trainerA.status().step());
            assertEquals(trainerB.status(), trainerA.status(), random.tag());
            assertArrayEquals(vaeB.parameters(), vaeA.parameters(), random.tag());
            assertNotEquals(0, operations.stream().filter(operation -> !operation.isGemm()).count());
        }
    }

    @Test
    void theRecordedGemmsAreTheModelsMatrixProducts(TestRandom random) {
        int d = 64;
        int h = 16;
        int l = 4;
        try (TrainingProblem problem = TrainingProblem.forSteps(backend, d + "-" + h + "-" + l, BATCH,
                GemmPrecision.FP32, randomImages(random, 48, 8))) {
            // Forward: x W^T for encoder 0 (D -> H), encoder 1 (H -> 2L), decoder 0 (L -> H), decoder 1 (H -> D);
            // backward: a weight gradient for each, an input gradient for all but encoder 0 (x needs none).
            long products = (long) d * h + (long) h * 2 * l + (long) l * h + (long) h * d;
            assertEquals(4 + 4 + 3, problem.gemmCount());
            assertEquals(2L * BATCH * (3 * products - (long) d * h), problem.gemmFlops());
            // The gather, 4 biases and activations, the latent forward, the loss, the totals, 2 activation
            // backwards (the linear output layers have none), 4 bias gradients, the latent backward, the gradient
            // norm, Adam and the advance.
            assertEquals(18, problem.otherCount());
        }
    }

    @Test
    void stepsRunPastTheEndOfAnEpoch(TestRandom random) {
        Idx.Images images = randomImages(random, 3 * BATCH, 8);
        try (TrainingProblem problem = TrainingProblem.forSteps(backend, "64-16-4", BATCH, GemmPrecision.FP32,
                images)) {
            long before = problem.trainer().status().step();
            for (int i = 0; i < 10; i++) {
                problem.step();
                long gemmNanos = problem.stepTimingGemms();
                // The per-operation clock of StepProfile: its GEMM entries are the GEMM time the split returns.
                long[] step = new long[problem.operations().size()];
                long gemmsOfEach = problem.stepTimingEach(step);
                long gemmEntries = 0;
                for (int op = 0; op < step.length; op++) {
                    gemmEntries += problem.operations().get(op).isGemm() ? step[op] : 0;
                }
                assertEquals(gemmsOfEach, gemmEntries);
                assertTrue(gemmNanos > 0 && gemmsOfEach > 0);
            }
            assertEquals(before + 30, problem.trainer().status().step());
        }
    }

    @Test
    void aSubsetIsRepeatedInOrderToAnEpoch(TestRandom random) {
        Idx.Images subset = randomImages(random, 5, 8);
        Idx.Images epoch = TrainingProblem.repeated(subset, 12);
        assertEquals(12, epoch.count());
        for (int i = 0; i < 12; i++) {
            for (int p = 0; p < 64; p++) {
                assertEquals(subset.pixels()[(i % 5) * 64 + p], epoch.pixels()[i * 64 + p]);
            }
        }
    }

    @Test
    void rowsAndModelsAreParsedOrRefused() {
        assertEquals(new TrainingComparison.Row("784-512-512-32", 1024, GemmPrecision.TF32),
                TrainingComparison.Row.parse("784-512-512-32/1024/tf32"));
        VaeSpec spec = TrainingProblem.spec("784-512-512-32", GemmPrecision.FP32);
        assertEquals(List.of(512, 512), spec.encoderHidden());
        assertEquals(List.of(512, 512), spec.decoderHidden());
        assertEquals(32, spec.latent());
        assertThrows(IllegalArgumentException.class, () -> TrainingComparison.Row.parse("784-400-20"));
        assertThrows(IllegalArgumentException.class, () -> TrainingComparison.Row.parse("784-400-20/big"));
        assertThrows(IllegalArgumentException.class, () -> TrainingProblem.spec("784-x-20", GemmPrecision.FP32));
    }
}
