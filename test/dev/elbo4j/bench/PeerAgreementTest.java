package dev.elbo4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.data.Idx;

/**
 * The PyTorch peer trains the model elbo4j trains: from an elbo4j checkpoint, on the batches and noise elbo4j used,
 * its losses and gradients equal elbo4j's to float32 rounding. Needs Debian's python3-torch; skipped, saying so,
 * without it, except where {@code ELBO4J_TEST_REQUIRE_PYTORCH=true} (CI, which installs it) makes that a failure.
 */
class PeerAgreementTest {
    private static final String PYTHON = "/usr/bin/python3";

    @Test
    void thePeerComputesElbo4jsLossAndGradients(@TempDir Path directory) throws Exception {
        if (!torchImports()) {
            String missing = PYTHON + " cannot import torch (Debian's python3-torch)";
            assertFalse(Boolean.parseBoolean(System.getenv("ELBO4J_TEST_REQUIRE_PYTORCH")),
                    missing + ", and ELBO4J_TEST_REQUIRE_PYTORCH=true requires the PyTorch peer");
            Assumptions.abort("SKIPPED: " + missing);
        }
        Idx.Images images = TrainingProblem.repeated(new Idx.Images(3, 28, 28, pixels(3 * 784)), 64);
        try (CpuBackend backend = CpuBackend.create(2)) {
            AgreementFixture.write(backend, TrainingProblem.spec("784-32-4", GemmPrecision.FP32), 16, 2, images,
                    directory);
        }
        Path output = directory.resolve("agreement.json");
        Process peer = new ProcessBuilder(PYTHON, "bench/pytorch/vae_train.py", "agree", "--threads", "1",
                "--fixture", directory.toString(), "--json", output.toString()).inheritIO().start();
        assertTrue(peer.waitFor(5, TimeUnit.MINUTES), "the peer did not finish");
        assertEquals(0, peer.exitValue(), "the peer failed (its output is above)");
        JsonNode agreement = new ObjectMapper().readTree(output.toFile());
        assertEquals(2, agreement.path("steps").size());
        double loss = agreement.path("max_loss_relative_difference").asDouble(Double.NaN);
        double gradients = agreement.path("max_gradient_relative_l2").asDouble(Double.NaN);
        double parameters = agreement.path("max_final_parameters_relative_l2").asDouble(Double.NaN);
        assertTrue(loss <= 1e-5, "loss relative difference " + loss);
        assertTrue(gradients <= 1e-4, "gradient relative L2 difference " + gradients);
        assertTrue(parameters <= 1e-4, "parameters after the steps differ by " + parameters);
    }

    /** Image-like pixels: a smooth ramp per image, so the loss is in the usual range. */
    private static byte[] pixels(int count) {
        byte[] pixels = new byte[count];
        for (int i = 0; i < count; i++) {
            pixels[i] = (byte) ((i * 7 + (i / 784) * 50) % 256);
        }
        return pixels;
    }

    private static boolean torchImports() throws IOException, InterruptedException {
        if (!Files.isExecutable(Path.of(PYTHON))) {
            return false;
        }
        Process probe = new ProcessBuilder(PYTHON, "-c", "import torch").redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return probe.waitFor(2, TimeUnit.MINUTES) && probe.exitValue() == 0;
    }
}
