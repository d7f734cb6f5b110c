package dev.elbo4j.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import dev.elbo4j.Jvm;
import dev.elbo4j.cuda.CudaContext;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.kernels.ElboTotals;
import dev.elbo4j.reference.Bernoulli;
import dev.elbo4j.reference.Elbo;
import dev.elbo4j.reference.Reparameterization;
import dev.elbo4j.reference.Targets;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;
import dev.elbo4j.shape.SampleShape;

/**
 * The README's Java example is {@link ElboOnTheGpu}, a complete program (the README shows it verbatim:
 * {@link ReadmeExampleSourceTest}): it runs with elbo4j on the module path, and its computation gives the CPU
 * reference's loss and mean ELBO.
 */
@Tag("cuda")
@ExtendWith(CudaTestSupport.class)
class ReadmeExampleTest {
    /**
     * The program as a user runs it, with elbo4j on the module path and native access granted to the module by name
     * (the same CUDA backend as these tests): it prints the loss and the mean ELBO and no warning.
     */
    @Test
    void theExampleRunsWithElbo4jOnTheModulePath() throws Exception {
        List<String> arguments = new ArrayList<>(List.of("--module-path",
                String.join(File.pathSeparator, Jvm.modulePath()), "--add-modules", "dev.elbo4j",
                "--enable-native-access=dev.elbo4j", "-cp", Jvm.codeSource(ElboOnTheGpu.class).toString()));
        String library = System.getProperty("elbo4j.cuda.library");
        if (library != null) {
            arguments.add("-Delbo4j.cuda.library=" + library);
        }
        arguments.add(ElboOnTheGpu.class.getName());
        Jvm.Result run = Jvm.run(arguments);
        assertEquals(0, run.status(), run.err());
        assertTrue(run.out().matches("loss -?[0-9.]+ nats/image, mean ELBO -?[0-9.]+ nats/image\\R"), run.out());
        assertFalse(run.err().contains("WARNING"), run.err());
    }

    @Test
    void theExampleComputesTheReferencesLossAndMeanElbo(CudaContext gpu) {
        int batch = 24, latent = 5, dims = 37;
        long seed = 7;
        int step = 3;
        LatentShape latentShape = LatentShape.of(batch, latent);
        LikelihoodShape likelihood = LikelihoodShape.of(batch, dims);
        Random random = new Random(11);
        float[] encoderOutput = new float[batch * 2 * latent];
        float[] logits = new float[batch * dims];
        byte[] pixels = new byte[batch * dims];
        for (int i = 0; i < encoderOutput.length; i++) {
            encoderOutput[i] = (float) random.nextGaussian();
        }
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) (3 * random.nextGaussian());
            pixels[i] = (byte) random.nextInt(256);
        }
        ElboTotals totals = ElboOnTheGpu.lossOfOneStep(gpu, latentShape, likelihood, encoderOutput, logits, pixels,
                seed, step);

        float[] kl = new float[batch];
        Reparameterization.kl(latentShape, encoderOutput, kl);
        float[] logProb = new float[batch];
        Bernoulli.logProb(likelihood, logits, Targets.pixels(pixels).binarized(seed, step), logProb);
        SampleShape rows = SampleShape.of(batch);
        double loss = Elbo.loss(rows, logProb, kl, 1f);
        assertEquals(loss, totals.loss(), 1e-5 * Math.abs(loss) + 1e-4, "loss");
        assertEquals(Elbo.mean(rows, logProb, kl), totals.meanElbo(), 1e-5 * Math.abs(loss) + 1e-4, "mean ELBO");
        assertEquals(-totals.loss(), totals.meanElbo(), 1e-5 * Math.abs(loss), "with beta = 1, loss = -mean ELBO");
    }
}
