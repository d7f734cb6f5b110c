package dev.elbo4j.kernels;

import static dev.elbo4j.kernels.KernelAssertions.assertBitIdentical;
import static dev.elbo4j.kernels.KernelAssertions.assertElementwise;
import static dev.elbo4j.kernels.KernelAssertions.assertRowSums;
import static dev.elbo4j.kernels.KernelAssertions.assertStillPoisoned;
import static dev.elbo4j.kernels.KernelAssertions.poisoned;
import static dev.elbo4j.kernels.KernelAssertions.upload;
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

    private record Result(float[] totals, float[] elbo) {
    }

    private Result run(Path path, float[] logProb, float[] kl, int batch, float beta) {
        try (DeviceBuffer logProbBuffer = upload(cuda, logProb); DeviceBuffer klBuffer = upload(cuda, kl);
             DeviceBuffer elbo = poisoned(cuda, batch); DeviceBuffer totals = poisoned(cuda, ElboReduction.TOTALS)) {
            switch (path) {
                case FUSED -> fused.reduce(null, logProbBuffer, klBuffer, batch, beta, elbo, totals);
                case UNFUSED -> {
                    try (UnfusedElbo unfused = new UnfusedElbo(cuda, 1, batch, 1, 1)) {
                        unfused.elboReduce(null, logProbBuffer, klBuffer, batch, beta, elbo, totals);
                        cuda.synchronize();
                    }
                }
            }
            return new Result(totals.toFloatArray(), elbo.toFloatArray());
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
            assertRowSums(where + ": loss", new float[] {gpu.totals()[0]},
                    new float[] {(float) Elbo.loss(logProb, kl, batch, beta)}, new double[] {lossMagnitude});
            assertRowSums(where + ": mean ELBO", new float[] {gpu.totals()[1]},
                    new float[] {(float) Elbo.mean(logProb, kl, batch)}, new double[] {elboMagnitude});
            float[] elbo = new float[batch];
            Elbo.perRow(logProb, kl, batch, elbo);
            assertElementwise(where + ": per-row ELBO", gpu.elbo(), elbo);
        }
    }

    @ParameterizedTest
    @EnumSource(Path.class)
    void theSameInputsGiveTheSameBits(Path path, TestRandom random) {
        int batch = 3001;
        float[] logProb = random.uniforms(batch, -600, -20);
        float[] kl = random.uniforms(batch, 0, 60);
        assertBitIdentical(path + " totals", run(path, logProb, kl, batch, 1f).totals(),
                run(path, logProb, kl, batch, 1f).totals());
    }

    @Test
    void refusedCallsThrowBeforeAnyLaunch(TestRandom random) {
        int batch = 10;
        try (DeviceBuffer logProb = upload(cuda, random.uniforms(batch, -600, -20));
             DeviceBuffer kl = upload(cuda, random.uniforms(batch - 1, 0, 60));
             DeviceBuffer totals = poisoned(cuda, ElboReduction.TOTALS); DeviceBuffer elbo = poisoned(cuda, batch);
             UnfusedElbo unfused = new UnfusedElbo(cuda, 1, batch, 1, 1)) {
            List<Runnable> refused = List.of(
                    () -> fused.reduce(null, logProb, kl, batch, 1f, elbo, totals),
                    () -> fused.reduce(null, logProb, logProb, 0, 1f, elbo, totals),
                    () -> fused.reduce(null, logProb, logProb, batch, Float.POSITIVE_INFINITY, elbo, totals),
                    () -> fused.reduce(null, logProb, logProb, batch, 1f, elbo, elbo.sliceFloats(0, 1)),
                    () -> fused.reduce(null, logProb, logProb, batch, 1f, logProb, totals),
                    () -> unfused.elboReduce(null, logProb, kl, batch, 1f, elbo, totals),
                    () -> unfused.elboReduce(null, logProb, logProb, batch + 1, 1f, null, totals));
            for (int i = 0; i < refused.size(); i++) {
                int call = i;
                assertThrows(RuntimeException.class, refused.get(i)::run, "call " + call);
            }
            // A batch within a block stride of 2^31 is refused for the kernel's 32-bit loop counter, before the
            // buffer sizes are looked at.
            IllegalArgumentException tooLarge = assertThrows(IllegalArgumentException.class,
                    () -> fused.reduce(null, logProb, logProb, Integer.MAX_VALUE - 8, 1f, null, totals));
            assertTrue(tooLarge.getMessage().contains("32-bit"), tooLarge.getMessage());
            assertStillPoisoned("totals", totals.toFloatArray());
            assertStillPoisoned("elbo", elbo.toFloatArray());
        }
    }
}
