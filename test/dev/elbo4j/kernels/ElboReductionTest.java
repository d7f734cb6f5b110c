package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.KernelAssertions.assertBitIdentical;
import static dev.elbo4j.kernels.KernelAssertions.assertElementwise;
import static dev.elbo4j.kernels.KernelAssertions.assertRowSums;
import static dev.elbo4j.kernels.KernelAssertions.assertStillPoisoned;
import static dev.elbo4j.kernels.KernelAssertions.poisoned;
import static dev.elbo4j.kernels.KernelAssertions.upload;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.cuda.DeviceBuffer;
import dev.elbo4j.reference.Elbo;
import dev.elbo4j.reference.TestRandom;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;
import dev.elbo4j.shape.SampleShape;

/**
 * The batch loss and mean ELBO, fused ({@link ElboReduction}) and unfused ({@link UnfusedElbo}), against the CPU
 * reference for B = 1, B not a multiple of the block, and B = 4096.
 */
@Tag("cuda")
@ExtendWith({CudaTestSupport.class, TestRandom.Extension.class})
class ElboReductionTest {
    private static final int[] BATCHES = {1, 3, 255, 257, 1000, 4096};

    private final CudaContext cuda;
    private final ElboReduction fused;

    ElboReductionTest(CudaContext cuda) {
        this.cuda = cuda;
        this.fused = new ElboReduction(cuda);
    }

    private record Result(ElboTotals totals, float[] elbo) {
    }

    private Result run(Path path, float[] logProb, float[] kl, int batch, float beta) {
        SampleShape rows = SampleShape.of(batch);
        try (DeviceBuffer logProbBuffer = upload(cuda, logProb); DeviceBuffer klBuffer = upload(cuda, kl);
             DeviceBuffer elbo = poisoned(cuda, batch); DeviceBuffer totals = poisoned(cuda, ElboTotals.FLOATS)) {
            switch (path) {
                case FUSED -> fused.reduce(null, rows, logProbBuffer, klBuffer, beta, elbo, totals);
                case UNFUSED -> {
                    try (UnfusedElbo unfused = unfused(batch)) {
                        unfused.elboReduce(null, rows, logProbBuffer, klBuffer, beta, elbo, totals);
                        cuda.synchronize();
                    }
                }
            }
            float[] totalFloats = totals.toFloatArray();
            assertBitIdentical(path + ": ElboTotals.read reads what the kernel wrote",
                    new float[] {totalFloats[0], totalFloats[1]},
                    new float[] {ElboTotals.read(totals).loss(), ElboTotals.read(totals).meanElbo()});
            return new Result(ElboTotals.of(totalFloats), elbo.toFloatArray());
        }
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void lossAndMeanElboMatchTheReference(Path path, TestRandom random) {
        for (int batch : BATCHES) {
            String where = path + " B = " + batch;
            // log p(x | z) of a 784-pixel image and a KL of a 32-dimensional latent, in nats.
            float[] logProb = random.uniforms(batch, -600, -20);
            float[] kl = random.uniforms(batch, 0, 60);
            float beta = (float) random.uniform(0.1, 4);
            Result gpu = run(path, logProb, kl, batch, beta);

            double lossMagnitude = 0;
            double elboMagnitude = 0;
            for (int b = 0; b < batch; b++) {
                lossMagnitude += (Math.abs(logProb[b]) + beta * Math.abs(kl[b])) / batch;
                elboMagnitude += (Math.abs(logProb[b]) + Math.abs(kl[b])) / batch;
            }
            SampleShape rows = SampleShape.of(batch);
            assertRowSums(where + ": loss", new float[] {gpu.totals().loss()},
                    new float[] {(float) Elbo.loss(rows, logProb, kl, beta)}, new double[] {lossMagnitude});
            assertRowSums(where + ": mean ELBO", new float[] {gpu.totals().meanElbo()},
                    new float[] {(float) Elbo.mean(rows, logProb, kl)}, new double[] {elboMagnitude});
            float[] elbo = new float[batch];
            Elbo.perRow(rows, logProb, kl, elbo);
            assertElementwise(where + ": per-row ELBO", gpu.elbo(), elbo);
        }
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void theSameInputsGiveTheSameBits(Path path, TestRandom random) {
        int batch = 3001;
        float[] logProb = random.uniforms(batch, -600, -20);
        float[] kl = random.uniforms(batch, 0, 60);
        ElboTotals first = run(path, logProb, kl, batch, 1f).totals();
        ElboTotals second = run(path, logProb, kl, batch, 1f).totals();
        assertBitIdentical(path + " totals", new float[] {first.loss(), first.meanElbo()},
                new float[] {second.loss(), second.meanElbo()});
    }

    @Test
    void refusedCallsThrowBeforeAnyLaunch(TestRandom random) {
        int batch = 10;
        SampleShape rows = SampleShape.of(batch);
        try (DeviceBuffer logProb = upload(cuda, random.uniforms(batch, -600, -20));
             DeviceBuffer kl = upload(cuda, random.uniforms(batch - 1, 0, 60));
             DeviceBuffer totals = poisoned(cuda, ElboTotals.FLOATS); DeviceBuffer elbo = poisoned(cuda, batch);
             UnfusedElbo unfused = unfused(batch)) {
            List<Runnable> refused = List.of(
                    () -> fused.reduce(null, rows, logProb, kl, 1f, elbo, totals),
                    () -> fused.reduce(null, null, logProb, logProb, 1f, elbo, totals),
                    () -> fused.reduce(null, rows.withSamples(2), logProb, logProb, 1f, elbo, totals),
                    () -> fused.reduce(null, rows, logProb, logProb, Float.POSITIVE_INFINITY, elbo, totals),
                    () -> fused.reduce(null, rows, logProb, logProb, 1f, elbo, elbo.sliceFloats(0, 1)),
                    () -> fused.reduce(null, rows, logProb, logProb, 1f, logProb, totals),
                    () -> unfused.elboReduce(null, rows, logProb, kl, 1f, elbo, totals),
                    () -> unfused.elboReduce(null, SampleShape.of(batch + 1), logProb, logProb, 1f, null, totals));
            for (int i = 0; i < refused.size(); i++) {
                int call = i;
                assertThrows(RuntimeException.class, refused.get(i)::run, "call " + call);
            }
            // A batch within a block stride of 2^31 is refused for the kernel's 32-bit loop counter, before the
            // buffer sizes are looked at.
            IllegalArgumentException tooLarge = assertThrows(IllegalArgumentException.class,
                    () -> fused.reduce(null, SampleShape.of(Integer.MAX_VALUE - 8), logProb, logProb, 1f, null,
                            totals));
            assertTrue(tooLarge.getMessage().contains("32-bit"), tooLarge.getMessage());
            assertStillPoisoned("totals", totals.toFloatArray());
            assertStillPoisoned("elbo", elbo.toFloatArray());
        }
    }

    @Test
    void totalsAreReadByName() {
        ElboTotals totals = ElboTotals.of(new float[] {3.5f, -3.5f});
        assertEquals(3.5f, totals.loss());
        assertEquals(-3.5f, totals.meanElbo());
        IllegalArgumentException wrongLength = assertThrows(IllegalArgumentException.class,
                () -> ElboTotals.of(new float[3]));
        assertTrue(wrongLength.getMessage().contains("loss, mean ELBO"), wrongLength.getMessage());
    }

    /** An unfused baseline with room for a reduction of {@code batch} rows. */
    private UnfusedElbo unfused(int batch) {
        return new UnfusedElbo(cuda, LatentShape.of(batch, 1), LikelihoodShape.of(batch, 1));
    }
}
