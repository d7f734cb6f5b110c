package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.KernelAssertions.assertElementwise;
import static dev.elbo4j.kernels.KernelAssertions.assertRowSums;
import static dev.elbo4j.kernels.KernelAssertions.poisoned;
import static dev.elbo4j.kernels.KernelAssertions.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.nn.KlSchedule;
import dev.elbo4j.nn.StepStatus;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.LatentShape;

/**
 * The batch totals into the step state ({@link LossTotalsKernels}) against the formulas of {@link KlSchedule} and
 * the loss, evaluated here in double on fresh random inputs: warm-up before and after its end, free bits holding
 * some dimensions and not others, K &gt; 1, a row stride wider than 2L, and a non-finite loss that leaves the epoch
 * sums alone.
 */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, TestRandom.Extension.class})
class LossTotalsKernelsTest {
    private final CudaContext cuda;
    private final LossTotalsKernels kernels;

    LossTotalsKernelsTest(CudaContext cuda) {
        this.cuda = cuda;
        this.kernels = new LossTotalsKernels(cuda);
    }

    /** What the kernel must write, in double from the same float inputs. */
    private record Expected(float loss, float elbo, float kl, float beta, float[] klWeights, double sumMagnitude) {
    }

    private static Expected expected(KlSchedule schedule, long step, LatentShape shape, float[] muLogvar,
                                     float[] logProb, float[] kl) {
        int batch = shape.batch();
        int latent = shape.latent();
        int rows = shape.samples() * batch;
        float beta = schedule.betaAt(step);
        double logProbSum = 0;
        double magnitude = 0;
        for (float value : logProb) {
            logProbSum += value;
            magnitude += Math.abs(value) / rows;
        }
        double klSum = 0;
        for (float value : kl) {
            klSum += value;
            magnitude += Math.abs(value) / batch;
        }
        double meanLogProb = logProbSum / rows;
        double meanKl = klSum / batch;
        double klTerm = meanKl;
        float rowWeight = (float) ((double) beta / batch);
        float[] weights = new float[latent];
        java.util.Arrays.fill(weights, rowWeight);
        if (schedule.freeBits() > 0) {
            klTerm = 0;
            for (int l = 0; l < latent; l++) {
                double dimension = 0;
                for (int b = 0; b < batch; b++) {
                    double mu = muLogvar[b * shape.rowStride() + l];
                    double logvar = muLogvar[b * shape.rowStride() + latent + l];
                    dimension += 0.5 * (mu * mu + Math.exp(logvar) - 1 - logvar);
                }
                dimension /= batch;
                magnitude += dimension;
                boolean held = dimension < schedule.freeBits();
                klTerm += held ? schedule.freeBits() : dimension;
                weights[l] = held ? 0f : rowWeight;
            }
        }
        return new Expected((float) (-meanLogProb + beta * klTerm), (float) (meanLogProb - meanKl), (float) meanKl,
                beta, weights, magnitude);
    }

    /** Random [mu | logvar] with mu ~ N(0, s_l^2) per dimension, so the dimensions' KL spreads out. */
    private static float[] encoderOutput(TestRandom random, LatentShape shape) {
        float[] out = random.normals(shape.batch() * shape.rowStride(), 1.0);
        for (int b = 0; b < shape.batch(); b++) {
            for (int l = 0; l < shape.latent(); l++) {
                out[b * shape.rowStride() + l] *= (float) (0.1 + 0.3 * l);
                out[b * shape.rowStride() + shape.latent() + l] = (float) random.uniform(-3, 1);
            }
        }
        return out;
    }

    private void check(TestRandom random, KlSchedule schedule, long step, LatentShape shape) {
        String where = schedule + " step " + step + " " + shape;
        float[] muLogvar = encoderOutput(random, shape);
        float[] logProb = random.uniforms(shape.samples() * shape.batch(), -600, -50);
        float[] kl = random.uniforms(shape.batch(), 0, 40);
        Expected expected = expected(schedule, step, shape, muLogvar, logProb, kl);
        StepStatus before = new StepStatus(step, 7, 0, 1, 0, 0f, 0f, 0f, 0f, 0f, 100.5, -90.25, 12.0, 3);
        try (DeviceStepState state = DeviceStepState.allocate(cuda); DeviceBuffer ml = upload(cuda, muLogvar);
             DeviceBuffer lp = upload(cuda, logProb); DeviceBuffer klBuffer = upload(cuda, kl);
             DeviceBuffer weights = poisoned(cuda, shape.latent())) {
            state.write(before);
            kernels.compute(null, shape, ml, lp, klBuffer, schedule, state, weights);
            StepStatus after = state.read();
            double[] tolerance = {expected.sumMagnitude()};
            assertRowSums(where + ": loss", new float[] {after.loss()}, new float[] {expected.loss()}, tolerance);
            assertRowSums(where + ": elbo", new float[] {after.elbo()}, new float[] {expected.elbo()}, tolerance);
            assertRowSums(where + ": kl", new float[] {after.kl()}, new float[] {expected.kl()}, tolerance);
            assertEquals(expected.beta(), after.beta(), where + ": beta (the same expression, bit for bit)");
            assertElementwise(where + ": klWeights", weights.toFloatArray(), expected.klWeights());
            assertEquals(before.summedSteps() + 1, after.summedSteps(), where + ": summed steps");
            assertEquals(before.lossSum() + after.loss(), after.lossSum(), where + ": loss sum");
            assertEquals(before.elboSum() + after.elbo(), after.elboSum(), where + ": ELBO sum");
            assertEquals(before.klSum() + after.kl(), after.klSum(), where + ": KL sum");
            assertEquals(before.step(), after.step(), where + ": the step counter is not advanced here");
            assertEquals(before.updates(), after.updates(), where + ": updates untouched");
        }
    }

    @Test
    void totalsMatchTheFormulas(TestRandom random) {
        check(random, new KlSchedule(1f, 0, 0f), 0, LatentShape.of(1, 1));
        check(random, new KlSchedule(1f, 0, 0f), 12, LatentShape.of(300, 3).withSamples(2));
        check(random, new KlSchedule(0.5f, 1000, 0f), 37, LatentShape.of(33, 8));
        check(random, new KlSchedule(2f, 10, 0f), 10, LatentShape.of(5, 4).withRowStride(11));
        check(random, new KlSchedule(1f, 0, 0f), 3, LatentShape.of(700, 20));
    }

    @Test
    void freeBitsHoldTheDimensionsBelowTheFloor(TestRandom random) {
        // Dimension l has mu ~ N(0, (0.1 + 0.3 l)^2): a floor of 0.4 nats holds the first few and not the rest.
        check(random, new KlSchedule(1f, 0, 0.4f), 5, LatentShape.of(64, 10));
        check(random, new KlSchedule(1f, 100, 0.4f), 50, LatentShape.of(300, 7).withSamples(3).withRowStride(15));
    }

    @Test
    void aNonFiniteLossLeavesTheEpochSums(TestRandom random) {
        LatentShape shape = LatentShape.of(4, 2);
        float[] logProb = random.uniforms(4, -100, -10);
        logProb[2] = Float.NEGATIVE_INFINITY;
        StepStatus before = new StepStatus(3, 2, 0, 0, 0, 0f, 0f, 0f, 0f, 0f, 10, -10, 1, 2);
        try (DeviceStepState state = DeviceStepState.allocate(cuda);
             DeviceBuffer ml = upload(cuda, encoderOutput(random, shape)); DeviceBuffer lp = upload(cuda, logProb);
             DeviceBuffer kl = upload(cuda, random.uniforms(4, 0, 5)); DeviceBuffer weights = poisoned(cuda, 2)) {
            state.write(before);
            kernels.compute(null, shape, ml, lp, kl, new KlSchedule(1f, 0, 0f), state, weights);
            StepStatus after = state.read();
            assertEquals(Float.POSITIVE_INFINITY, after.loss(), "loss");
            assertEquals(before.lossSum(), after.lossSum(), "loss sum");
            assertEquals(before.summedSteps(), after.summedSteps(), "summed steps");
        }
    }

    @Test
    void badArgumentsAreRefused() {
        LatentShape shape = LatentShape.of(4, 2);
        try (DeviceStepState state = DeviceStepState.allocate(cuda); DeviceBuffer ml = poisoned(cuda, 16);
             DeviceBuffer lp = poisoned(cuda, 4); DeviceBuffer kl = poisoned(cuda, 4);
             DeviceBuffer weights = poisoned(cuda, 2)) {
            KlSchedule schedule = new KlSchedule(1f, 0, 0f);
            IllegalArgumentException shortLogProb = assertThrows(IllegalArgumentException.class,
                    () -> kernels.compute(null, shape.withSamples(2), ml, lp, kl, schedule, state, weights));
            assertTrue(shortLogProb.getMessage().contains("logProb"), shortLogProb.getMessage());
            IllegalArgumentException overlap = assertThrows(IllegalArgumentException.class,
                    () -> kernels.compute(null, shape, ml, lp, kl, schedule, state, kl));
            assertTrue(overlap.getMessage().contains("overlap"), overlap.getMessage());
        }
    }
}
