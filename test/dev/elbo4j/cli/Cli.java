package dev.elbo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

import dev.elbo4j.cuda.CudaUnavailableException;
import dev.elbo4j.data.IdxFiles;
import dev.elbo4j.gpu.BackendSelection;
import dev.elbo4j.reference.TestRandom;

/** Runs the command line in-process for tests, and makes the small data sets they train on. */
final class Cli {
    /** What {@link #noGpu()} reports: the message of a machine without the NVIDIA driver. */
    static final String NO_DRIVER = noDriver().getMessage();
    /** Side of the synthetic images: 4 x 4, D = 16. */
    static final int SIDE = 4;

    private Cli() {
    }

    /** What one run printed and returned. */
    record Run(int status, String out, String err) {
        /** Asserts the status and that stderr holds no stack trace. */
        Run expect(int expected) {
            assertEquals(expected, status, "status; stdout:\n" + out + "\nstderr:\n" + err);
            assertFalse(err.contains("\tat ") || err.contains("Exception"), "a stack trace or exception name:\n" + err);
            return this;
        }

        /** Asserts a failure whose stderr is one line containing {@code text}. */
        Run failsWith(int expected, String text) {
            expect(expected);
            assertEquals(1, err.strip().lines().count(), "not one line:\n" + err);
            assertTrue(err.contains(text), "expected \"" + text + "\" in:\n" + err);
            return this;
        }
    }

    /** A machine without a GPU, plain progress lines at every report, interrupts never delivered. */
    static CliEnvironment noGpu() {
        return environment(Interrupts.ignoring());
    }

    /** Like {@link #noGpu()} with {@code interrupts}. */
    static CliEnvironment environment(Interrupts interrupts) {
        return new CliEnvironment(() -> GpuReport.unusable(NO_DRIVER), new BackendSelection.GpuProbe(
                () -> Optional.of(NO_DRIVER), () -> {
                    throw noDriver();
                }), false, Duration.ZERO, interrupts);
    }

    /**
     * The GPU of the tests' CUDA library ({@code -Delbo4j.cuda.library}: the CPU emulator in CI, or a real GPU),
     * found as a user's run finds it; plain progress lines, interrupts never delivered.
     */
    static CliEnvironment testsCuda() {
        return new CliEnvironment(GpuReport::probe, BackendSelection.GpuProbe.system(), false, Duration.ZERO,
                Interrupts.ignoring());
    }

    /** The failure of a machine without the NVIDIA driver, as {@code CudaRuntime} reports it. */
    private static CudaUnavailableException noDriver() {
        return new CudaUnavailableException("no CUDA driver library could be loaded",
                List.of("libcuda.so.1 (system loader): could not be loaded: libcuda.so.1: cannot open shared object "
                        + "file"), "Install the NVIDIA driver (it provides libcuda.so.1).");
    }

    static Run run(String... args) {
        return run(noGpu(), args);
    }

    static Run run(CliEnvironment environment, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.execute(args, new PrintWriter(out), new PrintWriter(err), environment);
        return new Run(status, out.toString(), err.toString());
    }

    /** {@code train} and {@code test} random 4 x 4 images (gzip-compressed IDX) in {@code folder}. */
    static Path tinyData(Path folder, TestRandom random, int train, int test) throws IOException {
        java.nio.file.Files.createDirectories(folder);
        IdxFiles.writeSplit(folder, "train", SIDE, SIDE, random.pixels(train * SIDE * SIDE), new byte[train], true);
        IdxFiles.writeSplit(folder, "t10k", SIDE, SIDE, random.pixels(test * SIDE * SIDE), new byte[test], true);
        return folder;
    }

    /** The options of a small, fast model on {@link #tinyData}. */
    static String[] tinyModel(String... more) {
        String[] base = {"--hidden", "8", "--latent", "2", "--batch", "8", "--iwae-k", "4", "--threads", "1",
            "--progress", "lines"};
        java.util.List<String> all = new java.util.ArrayList<>();
        java.util.List<String> given = java.util.Arrays.asList(more);
        for (int i = 0; i < base.length; i += 2) {
            if (!given.contains(base[i])) {
                all.add(base[i]);
                all.add(base[i + 1]);
            }
        }
        all.addAll(given);
        return all.toArray(String[]::new);
    }
}
