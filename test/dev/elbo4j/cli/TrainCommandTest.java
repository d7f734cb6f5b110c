package dev.elbo4j.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.elbo4j.cuda.CudaRuntime;
import dev.elbo4j.cuda.CudaTestSupport;
import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.data.IdxFiles;
import dev.elbo4j.io.Checkpoint;
import dev.elbo4j.nn.AdamSettings;
import dev.elbo4j.reference.TestRandom;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** {@code elbo4j train} on small synthetic data: its outputs, its refusals, Ctrl-C and --resume. */
@ExtendWith(TestRandom.Extension.class)
class TrainCommandTest {

    @TempDir
    Path directory;

    private String[] train(Path data, Path out, String... more) {
        String[] head = {"train", "--data", data.toString(), "--out", out.toString()};
        String[] model = Cli.tinyModel(more);
        String[] all = new String[head.length + model.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(model, 0, all, head.length, model.length);
        return all;
    }

    @Test
    void trainsAndWritesMetricsCheckpointAndPictures(TestRandom random) throws IOException {
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Path out = directory.resolve("run");
        Cli.Run run = Cli.run(train(data, out, "--epochs", "2")).expect(0);

        assertTrue(run.out().contains("device  no usable GPU (no CUDA driver library could be loaded): using cpu "
                + "(OpenBLAS "), run.out());
        assertTrue(run.out().contains("epoch 1/2  train ELBO") && run.out().contains("epoch 2/2  train ELBO"),
                run.out());
        assertTrue(run.out().contains("log p(x) >= ") && run.out().contains("(IWAE, K = 4, 16 images"),
                run.out());
        // The latent space is 2-d: the traversal is drawn without being asked for.
        assertTrue(run.out().contains("reconstructions.png, samples.png, traversal.png"), run.out());
        // Plain progress lines (not a terminal): no carriage return anywhere.
        assertTrue(run.err().contains("epoch 1/2: step 8/8 (100%)"), run.err());
        assertFalse(run.err().contains("\r") || run.out().contains("\r"), "carriage return in non-terminal output");

        Metrics metrics = Metrics.read(out.resolve(RunFolder.METRICS));
        assertEquals(List.of(1, 2), metrics.epochs().stream().map(Metrics.Epoch::epoch).toList());
        for (Metrics.Epoch epoch : metrics.epochs()) {
            assertTrue(epoch.trainElbo() < 0 && epoch.testElbo() < 0 && epoch.kl() >= 0, epoch.toString());
            assertTrue(epoch.activeUnits() >= 0 && epoch.activeUnits() <= 2, epoch.toString());
            assertTrue(epoch.seconds() > 0 && epoch.stepsPerS() > 0, epoch.toString());
            assertTrue(epoch.device().startsWith("cpu"), epoch.toString());
        }
        assertEquals(4, metrics.result().iwaeK());
        assertEquals(16, metrics.result().iwaeImages());
        assertEquals(metrics.result().testLogPx() - metrics.result().testElbo(), metrics.result().gap(), 1e-9);
        assertTrue(Double.isFinite(metrics.result().testLogPx()) && metrics.result().testLogPx() < 0,
                metrics.result().toString());

        Checkpoint.Contents saved = RunCheckpoint.read(out.resolve(RunFolder.CHECKPOINT));
        assertEquals("16-8-2-8-16 RELU BERNOULLI", saved.spec().summary());
        assertEquals(2, saved.training().orElseThrow().epoch());
        for (String picture : new String[] {RunFolder.RECONSTRUCTIONS, RunFolder.SAMPLES, RunFolder.TRAVERSAL}) {
            assertTrue(Files.size(out.resolve(picture)) > 0, picture);
        }
    }

    @Test
    void refusesAMissingDataFolderSayingHowToInstallFashionMnist() {
        Path missing = directory.resolve("absent");
        Cli.run(train(missing, directory.resolve("run")))
                .failsWith(Main.EXIT_FAILURE, "no data folder " + missing + ": install Fashion-MNIST with "
                        + "'sudo apt-get install dataset-fashion-mnist'");
    }

    @Test
    void refusesFilesThatAreNotIdxOrAreTruncated(TestRandom random) throws IOException {
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Path images = data.resolve("train-images-idx3-ubyte.gz");
        Files.write(images, "P5 4 4 255\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        Cli.run(train(data, directory.resolve("run1"))).failsWith(Main.EXIT_FAILURE, images + ": not an IDX file");

        byte[] whole = IdxFiles.idxBytes(new int[] {64, 4, 4}, random.pixels(64 * 16));
        Files.write(images, java.util.Arrays.copyOf(whole, whole.length - 100));
        Cli.run(train(data, directory.resolve("run2"))).failsWith(Main.EXIT_FAILURE, images + ": truncated");
    }

    @Test
    void refusesTestImagesOfAnotherSizeThanTheTrainingImages(TestRandom random) throws IOException {
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        IdxFiles.writeSplit(data, "t10k", 5, 5, random.pixels(16 * 25), new byte[16], true);
        Cli.run(train(data, directory.resolve("run")))
                .failsWith(Main.EXIT_FAILURE, "the test images are 5 x 5 = 25 pixels but the model takes D = 16");
    }

    @Test
    void refusesSizesBelowOneAndALearningRateThatIsNotANumber(TestRandom random) throws IOException {
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Path out = directory.resolve("run");
        Cli.run(train(data, out, "--batch", "0")).failsWith(Main.EXIT_USAGE, "--batch must be at least 1 but is 0");
        Cli.run(train(data, out, "--latent", "-3")).failsWith(Main.EXIT_USAGE, "--latent must be at least 1 but is -3");
        Cli.run(train(data, out, "--hidden", "8,0")).failsWith(Main.EXIT_USAGE, "--hidden must be at least 1 but is 0");
        Cli.run(train(data, out, "--epochs", "0")).failsWith(Main.EXIT_USAGE, "--epochs must be at least 1 but is 0");
        Cli.run(train(data, out, "--k", "0")).failsWith(Main.EXIT_USAGE, "--k must be at least 1 but is 0");
        Cli.run(train(data, out, "--threads", "0")).failsWith(Main.EXIT_USAGE, "--threads must be at least 1");
        Cli.run(train(data, out, "--threads", "100000"))
                .failsWith(Main.EXIT_USAGE, "--threads must be at most 256 but is 100000");
        Cli.run(train(data, out, "--lr", "fast")).failsWith(Main.EXIT_USAGE, "'fast' is not a float");
        Cli.run(train(data, out, "--lr", "-0.1")).failsWith(Main.EXIT_USAGE, "--lr must be a positive number");
        Cli.run(train(data, out, "--lr", "NaN")).failsWith(Main.EXIT_USAGE, "--lr must be a positive number");
        Cli.run(train(data, out, "--weight-decay", "-1"))
                .failsWith(Main.EXIT_USAGE, "--weight-decay must be a number of at least 0 but is -1.0");
        Cli.run(train(data, out, "--clip-norm", "0")).failsWith(Main.EXIT_USAGE, "--clip-norm must be a positive number");
        Cli.run(train(data, out, "--clip-norm", "Infinity"))
                .failsWith(Main.EXIT_USAGE, "--clip-norm must be a positive number");
        Cli.run(train(data, out, "--gaussian-logvar", "-2"))
                .failsWith(Main.EXIT_USAGE, "--gaussian-logvar is the log-variance of --likelihood gaussian-fixed, "
                        + "not bernoulli");
        Cli.run(train(data, out, "--likelihood", "gaussian-fixed", "--gaussian-logvar", "NaN"))
                .failsWith(Main.EXIT_USAGE, "--gaussian-logvar must be a finite number but is NaN");
        Cli.run(train(data, out, "--activation", "sigmoid"))
                .failsWith(Main.EXIT_USAGE, "'sigmoid' is not one of relu, tanh, leaky-relu, silu");
        Cli.run(train(data, out, "--likelihood", "gaussian-dim", "--binarize", "dynamic"))
                .failsWith(Main.EXIT_USAGE, "--binarize dynamic is for the Bernoulli likelihood");
        assertFalse(Files.exists(out), "a refused run created its folder");
    }

    @Test
    void refusesAnExistingRunFolderUnlessForcedAndAnOutputFolderThatCannotBeWritten(TestRandom random)
            throws IOException {
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Path out = directory.resolve("run");
        Cli.run(train(data, out)).expect(0);
        Cli.run(train(data, out)).failsWith(Main.EXIT_FAILURE, "the output folder " + out
                + " already holds files (a run?): pass --force");
        Cli.run(train(data, out, "--force", "--seed", "7")).expect(0);
        assertEquals(7, RunCheckpoint.read(out.resolve(RunFolder.CHECKPOINT)).spec().seed());

        Path file = Files.writeString(directory.resolve("a-file"), "not a folder");
        Cli.run(train(data, file.resolve("run"))).failsWith(Main.EXIT_FAILURE,
                "cannot create the output folder " + file.resolve("run"));
        Cli.run(train(data, file)).failsWith(Main.EXIT_FAILURE, "the output folder " + file + " is a file");
    }

    @Test
    void refusesCudaWithoutAUsableGpuSayingWhy(TestRandom random) throws IOException {
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Cli.run(train(data, directory.resolve("run"), "--device", "cuda")).failsWith(Main.EXIT_FAILURE,
                "--device cuda: no usable GPU: no CUDA driver library could be loaded; tried: libcuda.so.1 (system loader):"
                        + " could not be loaded: libcuda.so.1: cannot open shared object file");
    }

    @Test
    void refusesTf32AndBf16OnTheCpuSayingWhyAndWritingNothing(TestRandom random) throws IOException {
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Path out = directory.resolve("run");
        Cli.run(train(data, out, "--device", "cpu", "--precision", "tf32")).failsWith(Main.EXIT_USAGE,
                "--precision tf32 needs the CUDA backend, not --device cpu (the CPU backend computes in fp32 only)");
        Cli.run(train(data, out, "--precision", "bf16")).failsWith(Main.EXIT_FAILURE,
                "--precision bf16 needs the CUDA backend (the CPU backend computes in fp32 only), but this run would "
                        + "train on the CPU: no usable GPU (no CUDA driver library could be loaded): using cpu (OpenBLAS");
        assertFalse(Files.exists(out), "a refused run leaves no folder");
    }

    /**
     * {@code --device cuda} on the tests' CUDA library (the CPU emulator in CI) trains a tiny epoch on the CUDA
     * backend, and its checkpoint loads on the CPU backend, whose evaluation agrees with the one the run made on the
     * GPU (the same parameters and the same fixed noise offsets).
     */
    @Test
    @Tag("cuda")
    void cudaTrainsAndItsCheckpointEvaluatesTheSameOnTheCpu(TestRandom random) throws IOException {
        CudaRuntime.unavailableReason().ifPresent(reason -> CudaTestSupport.skipOrFail("train --device cuda", reason));
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Path out = directory.resolve("run");
        Cli.Run run = Cli.run(Cli.testsCuda(), train(data, out, "--device", "cuda", "--epochs", "1")).expect(0);
        assertTrue(run.out().contains("device  CUDA was asked for: cuda ("), run.out());
        assertTrue(run.out().contains("steps replayed as a CUDA graph"), run.out());
        Metrics metrics = Metrics.read(out.resolve(RunFolder.METRICS));
        Metrics.Epoch epoch = metrics.epochs().getFirst();
        assertTrue(epoch.device().startsWith("cuda ("), epoch.toString());
        assertTrue(epoch.trainElbo() < 0 && epoch.testElbo() < 0, epoch.toString());
        Path checkpoint = out.resolve(RunFolder.CHECKPOINT);
        assertEquals(1, RunCheckpoint.read(checkpoint).training().orElseThrow().epoch());
        for (String picture : new String[] {RunFolder.RECONSTRUCTIONS, RunFolder.SAMPLES, RunFolder.TRAVERSAL}) {
            assertTrue(Files.size(out.resolve(picture)) > 0, picture);
        }

        Cli.Run eval = Cli.run("eval", checkpoint.toString(), "--data", data.toString(), "--k", "4", "--device", "cpu",
                "--threads", "1", "--json").expect(0);
        JsonNode onCpu = new ObjectMapper().readTree(eval.out());
        assertTrue(onCpu.get("device").asText().startsWith("cpu ("), eval.out());
        double elbo = onCpu.get("test_elbo").asDouble();
        double logPx = onCpu.get("test_log_px").asDouble();
        assertEquals(epoch.testElbo(), elbo, 1e-5 * Math.abs(elbo), "test ELBO on the GPU and on the CPU");
        assertEquals(metrics.result().testLogPx(), logPx, 1e-5 * Math.abs(logPx), "IWAE-4 on the GPU and on the CPU");
    }

    /** {@code --precision tf32} trains on the CUDA backend; the CPU evaluates its checkpoint in fp32 and says so. */
    @Test
    @Tag("cuda")
    void tf32TrainsOnCudaAndItsCheckpointEvaluatesInFp32OnTheCpu(TestRandom random) throws IOException {
        CudaRuntime.unavailableReason().ifPresent(reason -> CudaTestSupport.skipOrFail("train --precision", reason));
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Path out = directory.resolve("run");
        Cli.run(Cli.testsCuda(), train(data, out, "--device", "cuda", "--precision", "tf32", "--epochs", "1",
                "--iwae-k", "0")).expect(0);
        Path checkpoint = out.resolve(RunFolder.CHECKPOINT);
        assertEquals(GemmPrecision.TF32, RunCheckpoint.read(checkpoint).spec().precision());
        Cli.Run eval = Cli.run("eval", checkpoint.toString(), "--data", data.toString(), "--k", "2", "--device", "cpu",
                "--threads", "1").expect(0);
        assertTrue(eval.err().contains("; trained in tf32, computed in fp32 here"), eval.err());
        assertTrue(eval.out().contains("test ELBO    -"), eval.out());
    }

    /** {@code --device auto} takes a real GPU, but not the CPU emulator of the CUDA driver: it says so and uses the CPU. */
    @Test
    @Tag("cuda")
    void autoTrainsOnTheCpuWhenTheCudaLibraryIsTheEmulatorAndSaysWhy(TestRandom random) throws IOException {
        CudaRuntime.unavailableReason().ifPresent(reason -> CudaTestSupport.skipOrFail("train --device auto", reason));
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Path out = directory.resolve("run");
        Cli.Run run = Cli.run(Cli.testsCuda(), train(data, out, "--epochs", "1", "--iwae-k", "0")).expect(0);
        String device = Metrics.read(out.resolve(RunFolder.METRICS)).epochs().getFirst().device();
        if (EvalSampleInfoTest.EMULATOR.equals(CudaRuntime.get().device(0).name())) {
            assertTrue(run.out().contains("device  no usable GPU (the CUDA library is the CPU emulator, which is for "
                    + "tests: ask for cuda to use it): using cpu (OpenBLAS "), run.out());
            assertTrue(device.startsWith("cpu ("), device);
        } else {
            assertTrue(run.out().contains("device  a GPU was found: cuda ("), run.out());
            assertTrue(device.startsWith("cuda ("), device);
        }
    }

    @Test
    void refusesToResumeACheckpointOfAnotherModelSpecOrACorruptedOne(TestRandom random) throws IOException {
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Path out = directory.resolve("run");
        Cli.run(train(data, out)).expect(0);
        Path checkpoint = out.resolve(RunFolder.CHECKPOINT);

        Cli.run(train(data, out, "--resume", checkpoint.toString(), "--hidden", "12", "--epochs", "4"))
                .failsWith(Main.EXIT_FAILURE, "the checkpoint " + checkpoint + " is of another model spec "
                        + "(16-8-2-8-16 RELU BERNOULLI): --hidden [12] where it has [8]");

        Path other = Files.createDirectories(directory.resolve("other"));
        IdxFiles.writeSplit(other, "train", 5, 5, random.pixels(64 * 25), new byte[64], true);
        IdxFiles.writeSplit(other, "t10k", 5, 5, random.pixels(16 * 25), new byte[16], true);
        Cli.run(train(other, out, "--resume", checkpoint.toString(), "--epochs", "4")).failsWith(Main.EXIT_FAILURE,
                "the training images are 5 x 5 = 25 pixels but the checkpoint's model 16-8-2-8-16 RELU BERNOULLI "
                        + "takes D = 16");

        byte[] bytes = Files.readAllBytes(checkpoint);
        Path truncated = Files.write(directory.resolve("truncated.safetensors"),
                java.util.Arrays.copyOf(bytes, bytes.length / 2));
        Cli.run(train(data, out, "--resume", truncated.toString(), "--epochs", "4"))
                .failsWith(Main.EXIT_FAILURE, "cannot load the checkpoint " + truncated);
        Path garbage = Files.writeString(directory.resolve("garbage.safetensors"), "this is not a checkpoint");
        Cli.run(train(data, out, "--resume", garbage.toString(), "--epochs", "4"))
                .failsWith(Main.EXIT_FAILURE, "cannot load the checkpoint " + garbage);
        Cli.run(train(data, out, "--resume", directory.resolve("none.safetensors").toString()))
                .failsWith(Main.EXIT_FAILURE, "no checkpoint " + directory.resolve("none.safetensors"));
    }

    /**
     * AdamW, clipping and the fixed Gaussian log-variance reach the trainer and the checkpoint; a resumed run keeps
     * them and refuses others.
     */
    @Test
    void optimizerAndLikelihoodSettingsAreSavedAndKeptOnResume(TestRandom random) throws IOException {
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Path out = directory.resolve("run");
        Cli.run(train(data, out, "--adamw", "--clip-norm", "5", "--likelihood", "gaussian-fixed",
                "--gaussian-logvar", "-2")).expect(0);
        Path checkpoint = out.resolve(RunFolder.CHECKPOINT);
        Checkpoint.Contents saved = RunCheckpoint.read(checkpoint);
        assertEquals(-2f, saved.spec().fixedLogVariance());
        AdamSettings adam = saved.adam().orElseThrow();
        assertTrue(adam.decoupledWeightDecay(), adam.toString());
        assertEquals(TrainCommand.ADAMW_DEFAULT_DECAY, adam.weightDecay());
        assertEquals(5f, adam.maxGradNorm());

        Cli.run(train(data, out, "--resume", checkpoint.toString(), "--epochs", "2", "--clip-norm", "1",
                "--weight-decay", "0.5")).failsWith(Main.EXIT_FAILURE, "--weight-decay 0.5 where it has 0.01, "
                        + "--clip-norm 1.0 where it has 5.0");
        Cli.run(train(data, out, "--resume", checkpoint.toString(), "--epochs", "2")).expect(0);
        assertEquals(adam, RunCheckpoint.read(checkpoint).adam().orElseThrow());

        Path adam2 = directory.resolve("adam");
        Cli.run(train(data, adam2, "--weight-decay", "0.1")).expect(0);
        AdamSettings l2 = RunCheckpoint.read(adam2.resolve(RunFolder.CHECKPOINT)).adam().orElseThrow();
        assertFalse(l2.decoupledWeightDecay(), l2.toString());
        assertEquals(0.1f, l2.weightDecay());
        assertFalse(l2.clips(), l2.toString());
    }

    /**
     * Ctrl-C in the middle of epoch 2 stops after the step, writes the checkpoint, says where and exits 130; --resume
     * then finishes the run, which ends with exactly the parameters of a run that was never interrupted.
     */
    @Test
    void anInterruptWritesACheckpointThatResumeContinuesExactly(TestRandom random) throws IOException {
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Path straight = directory.resolve("straight");
        Cli.run(train(data, straight, "--epochs", "4")).expect(0);

        Path interrupted = directory.resolve("interrupted");
        AtomicReference<Runnable> handler = new AtomicReference<>();
        Interrupts captured = onInterrupt -> {
            handler.set(onInterrupt);
            return () -> handler.set(null);
        };
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        Writer pressCtrlC = new Writer() {
            private boolean pressed;

            @Override
            public void write(char[] text, int offset, int length) {
                err.write(text, offset, length);
                if (!pressed && err.toString().contains("epoch 2/4: step 3/8")) {
                    pressed = true;
                    deliver(handler.get());
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        int status = Main.execute(train(data, interrupted, "--epochs", "4"), new PrintWriter(out),
                new PrintWriter(pressCtrlC), Cli.environment(captured));
        assertEquals(Main.EXIT_INTERRUPTED, status, out + "\n" + err);
        Path checkpoint = interrupted.resolve(RunFolder.CHECKPOINT);
        assertTrue(out.toString().contains("interrupted at epoch 2, step 3 of 8: checkpoint written to " + checkpoint),
                out.toString());
        assertTrue(out.toString().contains("continue with: elbo4j train --resume " + checkpoint + " --epochs 4"),
                out.toString());
        assertEquals(3, RunCheckpoint.read(checkpoint).training().orElseThrow().stepInEpoch());

        Cli.Run resumed = Cli.run(train(data, interrupted, "--resume", checkpoint.toString(), "--epochs", "4"))
                .expect(0);
        assertTrue(resumed.out().contains("resume  " + checkpoint + " at epoch 2, step 3"), resumed.out());
        assertTrue(resumed.err().contains("epoch 2/4: step 4/8"), resumed.err());
        assertFalse(resumed.err().contains("epoch 2/4: step 3/8"), resumed.err());
        assertArrayEquals(RunCheckpoint.read(straight.resolve(RunFolder.CHECKPOINT)).parameters(),
                RunCheckpoint.read(checkpoint).parameters(), "resumed run's parameters differ from the uninterrupted");
        assertEquals(List.of(1, 2, 3, 4),
                Metrics.read(interrupted.resolve(RunFolder.METRICS)).epochs().stream().map(Metrics.Epoch::epoch)
                        .toList());
    }

    /**
     * Runs an interrupt handler as the JVM would, on its own thread, and returns once it has asked training to stop
     * (it then waits for the checkpoint), so the stop takes effect at the next step.
     */
    private static void deliver(Runnable handler) {
        Thread thread = new Thread(handler, "test-interrupt");
        thread.start();
        while (thread.isAlive() && thread.getState() != Thread.State.TIMED_WAITING) {
            Thread.onSpinWait();
        }
    }

    @Test
    void helpListsEveryOptionOfTheIssueWithItsDefault() {
        Cli.Run help = Cli.run("train", "--help").expect(0);
        for (String option : new String[] {"--data=DIR", "--epochs=N", "--batch=N", "--hidden=N[,N...]",
            "--latent=L", "--activation=relu|tanh|leaky-relu|silu", "--likelihood=bernoulli|gaussian[-fixed|-dim|-row]",
            "--gaussian-logvar=S", "--weight-decay=W", "--adamw", "--clip-norm=C",
            "--binarize=none|static|dynamic", "--beta=B", "--kl-warmup=STEPS", "--free-bits=F", "--k=K", "--lr=LR",
            "--precision=fp32|tf32|bf16", "--device=auto|cuda|cpu", "--threads=N", "--seed=S", "--out=DIR",
            "--resume=CHECKPOINT", "--force", "--iwae-k=K", "--iwae-images=N", "--traverse=DIM", "--train-images=N",
            "--test-images=N", "--progress=auto|bar|lines|none", "--verbose"}) {
            assertTrue(help.out().contains(option), option + " missing from:\n" + help.out());
        }
        assertTrue(help.out().contains("(default: /usr/share/datasets/fashion-mnist"), help.out());
        assertTrue(help.out().contains("Batch size (default: 128)"), help.out());
        assertTrue(help.out().contains("(default: 1e-3)"), help.out());
    }

    @Test
    void aTerminalGetsTheRedrawnBar(TestRandom random) throws IOException {
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Cli.Run run = Cli.run(train(data, directory.resolve("run"), "--progress", "bar")).expect(0);
        assertTrue(run.err().contains("\repoch 1/" + TrainCommand.DEFAULT_EPOCHS), run.err());
        assertTrue(run.err().contains("8/8"), run.err());
    }
}
