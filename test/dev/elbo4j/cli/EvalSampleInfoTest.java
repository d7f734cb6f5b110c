package dev.elbo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import javax.imageio.ImageIO;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.elbo4j.data.IdxFiles;
import dev.elbo4j.gpu.BackendSelection;
import dev.elbo4j.reference.TestRandom;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** {@code eval}, {@code sample} and {@code info} on a checkpoint trained on small synthetic data. */
@ExtendWith(TestRandom.Extension.class)
class EvalSampleInfoTest {
    /** The device name of the CPU emulator of the CUDA driver. */
    static final String EMULATOR = "elbo4j CPU emulator";

    @TempDir
    Path directory;

    private Path data;
    private Path checkpoint;

    @BeforeEach
    void trainASmallModel(TestRandom random) throws IOException {
        data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Path run = directory.resolve("run");
        java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("train"));
        args.addAll(java.util.List.of(Cli.tinyModel("--data", data.toString(), "--out", run.toString(), "--latent", "3",
                "--epochs", "1")));
        Cli.run(args.toArray(String[]::new)).expect(0);
        checkpoint = run.resolve(RunFolder.CHECKPOINT);
    }

    @Test
    void evalPrintsTheBoundsTheGapAndTheKlPerDimensionAsTextAndAsJson() throws IOException {
        Cli.Run text = Cli.run("eval", checkpoint.toString(), "--data", data.toString(), "--k", "8", "--threads", "1")
                .expect(0);
        assertTrue(text.out().contains("model        16-8-3-8-16 RELU BERNOULLI"), text.out());
        assertTrue(text.out().contains("log p(x)     ") && text.out().contains("(IWAE, K = 8;"), text.out());
        assertTrue(text.out().contains("active units "), text.out());
        assertEquals(3, text.out().lines().filter(line -> line.matches("\\s*[0-9] +-?[0-9.]+ +[0-9.]+")).count(),
                text.out());

        Cli.Run json = Cli.run("eval", checkpoint.toString(), "--data", data.toString(), "--k", "8", "--threads", "1",
                "--json").expect(0);
        JsonNode result = new ObjectMapper().readTree(json.out());
        assertEquals(16, result.get("images").asInt());
        assertEquals(8, result.get("iwae_k").asInt());
        assertEquals(3, result.get("kl_per_dimension").size());
        assertEquals(result.get("test_log_px").asDouble() - result.get("test_elbo").asDouble(),
                result.get("gap").asDouble(), 1e-9);
        double klSum = 0;
        for (JsonNode kl : result.get("kl_per_dimension")) {
            klSum += kl.asDouble();
        }
        assertEquals(result.get("kl").asDouble(), klSum, 1e-3 * Math.max(1, klSum));
        // The same checkpoint and data give the same numbers (fixed noise offsets).
        assertTrue(text.out().contains(String.format(java.util.Locale.ROOT, "%.3f nats (IWAE",
                result.get("test_log_px").asDouble())), text.out());
    }

    @Test
    void evalRefusesImagesOfAnotherSizeACorruptedCheckpointAndAZeroK(TestRandom random) throws IOException {
        Path other = Files.createDirectories(directory.resolve("other"));
        IdxFiles.writeSplit(other, "t10k", 5, 5, random.pixels(16 * 25), new byte[16], true);
        Cli.run("eval", checkpoint.toString(), "--data", other.toString()).failsWith(Main.EXIT_FAILURE,
                "the test images are 5 x 5 = 25 pixels but the checkpoint's model 16-8-3-8-16 RELU BERNOULLI takes "
                        + "D = 16");

        byte[] bytes = Files.readAllBytes(checkpoint);
        bytes[20] ^= 0x55; // inside the JSON header
        Path corrupted = Files.write(directory.resolve("corrupted.safetensors"), bytes);
        Cli.run("eval", corrupted.toString(), "--data", data.toString())
                .failsWith(Main.EXIT_FAILURE, "cannot load the checkpoint " + corrupted);
        Cli.run("eval", checkpoint.toString(), "--data", data.toString(), "--k", "0")
                .failsWith(Main.EXIT_USAGE, "--k must be at least 1 but is 0");
        Cli.run("eval").failsWith(Main.EXIT_USAGE, "Missing required parameter: 'CHECKPOINT'");
    }

    @Test
    void sampleDrawsAGridOfSamplesAndATraversal() throws IOException {
        Path samples = directory.resolve("s.png");
        Cli.run("sample", checkpoint.toString(), "--n", "10", "--out", samples.toString(), "--threads", "1")
                .expect(0);
        BufferedImage grid = ImageIO.read(samples.toFile());
        // ceil(sqrt(10)) = 4 columns, 3 rows of 4 x 4 images at scale 2 with one-pixel lines.
        assertEquals(4 * (Cli.SIDE * Pictures.SCALE + 1) + 1, grid.getWidth());
        assertEquals(3 * (Cli.SIDE * Pictures.SCALE + 1) + 1, grid.getHeight());

        Path traversal = directory.resolve("t.png");
        Cli.Run run = Cli.run("sample", checkpoint.toString(), "--traverse", "2", "--out", traversal.toString(),
                "--threads", "1").expect(0);
        assertTrue(run.out().contains("wrote " + traversal + " (latent dimension 2 from -3 to 3"), run.out());
        BufferedImage picture = ImageIO.read(traversal.toFile());
        assertEquals(Pictures.TRAVERSAL_STEPS * (Cli.SIDE * Pictures.SCALE + 1) + 1, picture.getWidth());
        assertEquals(Pictures.TRAVERSAL_ROWS * (Cli.SIDE * Pictures.SCALE + 1) + 1, picture.getHeight());

        Cli.run("sample", checkpoint.toString(), "--traverse", "3").failsWith(Main.EXIT_USAGE,
                "--traverse 3 is not a latent dimension: the model has L = 3 (0 to 2)");
        Cli.run("sample", checkpoint.toString(), "--n", "0").failsWith(Main.EXIT_USAGE, "--n must be at least 1");
        Cli.run("sample", checkpoint.toString(), "--out", directory.resolve("no/such/folder/x.png").toString())
                .failsWith(Main.EXIT_FAILURE, "cannot write " + directory.resolve("no/such/folder/x.png"));
    }

    @Test
    void infoSaysWhyThereIsNoGpuAndThatTheCpuBackendRuns() {
        Cli.Run info = Cli.run("info").expect(0);
        assertTrue(info.out().contains("Java        " + System.getProperty("java.runtime.version")), info.out());
        assertTrue(info.out().contains("GPU         none usable: no CUDA driver library could be loaded; tried:"),
                info.out());
        assertTrue(info.out().contains("Install the NVIDIA driver"), info.out());
        assertTrue(info.out().matches("(?s).*\nCPU backend cpu \\(OpenBLAS [^,]+, [0-9]+ threads\\)\n.*"),
                info.out());
        assertTrue(info.out().contains("--device auto trains on the CPU: no usable GPU (no CUDA driver library could "
                + "be loaded): using cpu (OpenBLAS "), info.out());
    }

    /**
     * With the tests' CUDA library (the emulator, or a real GPU) the GPU, cuBLAS and the kernel check are listed, and
     * the backend --device auto takes: a real GPU, but not the emulator.
     */
    @Test
    @Tag("cuda")
    void infoListsTheGpuCublasAndWhetherTheKernelsLoad() {
        GpuReport report = GpuReport.probe();
        if (report.driver() == null) {
            dev.elbo4j.cuda.CudaTestSupport.skipOrFail("info's GPU listing", report.unusableReason());
        }
        CliEnvironment probing = new CliEnvironment(() -> report, BackendSelection.GpuProbe.system(), false,
                Duration.ZERO, Interrupts.ignoring());
        Cli.Run info = Cli.run(probing, "info").expect(0);
        assertTrue(info.out().contains("CUDA driver CUDA "), info.out());
        assertTrue(info.out().matches("(?s).*GPU 0       .+, compute capability [0-9]+\\.[0-9]+ \\(sm_[0-9]+\\), "
                + "[0-9.]+ GiB, [0-9]+ SMs.*"), info.out());
        assertTrue(info.out().contains("kernels   this jar's kernels load on it"), info.out());
        assertTrue(info.out().contains("cuBLAS      ") && info.out().contains(", version "), info.out());
        String gpu = report.gpus().getFirst().properties().name();
        assertTrue(info.out().contains("GPU         usable: --device cuda trains on GPU 0 (" + gpu + ")"), info.out());
        if (gpu.equals(EMULATOR)) {
            assertTrue(info.out().contains("--device auto trains on the CPU: no usable GPU (the CUDA library is the "
                    + "CPU emulator, which is for tests"), info.out());
        } else {
            assertTrue(info.out().contains("--device auto trains on the GPU: a GPU was found: cuda (" + gpu),
                    info.out());
        }
    }

    @Test
    void everyCommandHasHelp() {
        for (String command : new String[] {"train", "eval", "sample", "info", "baseline"}) {
            Cli.Run help = Cli.run(command, "--help").expect(0);
            assertTrue(help.out().contains("Usage: elbo4j " + command), help.out());
        }
        Cli.Run top = Cli.run("--help").expect(0);
        for (String command : new String[] {"train", "eval", "sample", "info", "baseline"}) {
            assertTrue(top.out().contains("  " + command + " "), top.out());
        }
    }

    @Test
    void verbosePrintsTheStackTraceOfAFailure() {
        Cli.Run quiet = Cli.run("eval", directory.resolve("none").toString());
        assertEquals(Main.EXIT_FAILURE, quiet.status());
        assertTrue(!quiet.err().contains("\tat "), quiet.err());
        Cli.Run verbose = Cli.run("eval", directory.resolve("none").toString(), "--verbose");
        assertEquals(Main.EXIT_FAILURE, verbose.status());
        assertTrue(verbose.err().contains("CliFailure: no checkpoint") && verbose.err().contains("\tat "),
                verbose.err());
    }
}
