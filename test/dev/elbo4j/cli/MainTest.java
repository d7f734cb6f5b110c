package dev.elbo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.elbo4j.data.IdxFiles;
import dev.elbo4j.reference.TestRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(TestRandom.Extension.class)
class MainTest {

    private static final int ROWS = 3;
    private static final int COLUMNS = 5;
    private static final int DIMS = ROWS * COLUMNS;

    @TempDir
    Path directory;

    /** What one run printed and returned. */
    private record Run(int status, String out, String err) {
        /** The number on the output line that starts with {@code label}. */
        double value(String label) {
            Matcher match = Pattern.compile("(?m)^" + Pattern.quote(label) + "\\s+(-?[0-9.]+)").matcher(out);
            assertTrue(match.find(), "no \"" + label + "\" line in:\n" + out);
            return Double.parseDouble(match.group(1));
        }
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.execute(args, new PrintWriter(out), new PrintWriter(err));
        return new Run(status, out.toString(), err.toString());
    }

    @Test
    void helpSaysTheBaselineIsTheBarToBeat() {
        Run help = run("baseline", "--help");
        assertEquals(0, help.status());
        assertTrue(help.out().contains("baseline that every trained VAE must beat"), help.out());
        assertTrue(help.out().contains("--data=DIR") && help.out().contains("--binarize=SEED"), help.out());
        Run top = run("--help");
        assertTrue(top.out().contains("baseline"), top.out());
    }

    @Test
    void baselineReportsTheElboOfTheMeanIntensityModel(TestRandom random) throws IOException {
        byte[] train = random.pixels(7 * DIMS);
        byte[] test = random.pixels(4 * DIMS);
        // Pixel 0 is blank in every training image but not in test: its clamped logit must keep log p finite.
        for (int image = 0; image < 7; image++) {
            train[image * DIMS] = 0;
        }
        test[0] = (byte) 255;
        IdxFiles.writeSplit(directory, "train", ROWS, COLUMNS, train, new byte[7], true);
        IdxFiles.writeSplit(directory, "t10k", ROWS, COLUMNS, test, new byte[4], false);

        Run result = run("baseline", "--data", directory.toString());
        assertEquals(0, result.status(), result.err());
        double expected = expectedElbo(train, 7, test, 4);
        assertEquals(expected, result.value("log p(x|z)"), 1e-4 + 1e-6 * Math.abs(expected));
        assertEquals(0.0, result.value("KL"), 0.0);
        assertEquals(expected, result.value("ELBO"), 1e-4 + 1e-6 * Math.abs(expected));
        assertEquals(-expected / (DIMS * Math.log(2)), result.value("bits/dim"), 1e-6);
        assertTrue(result.err().contains("4/4 test images"), result.err());
        // Not a terminal: plain lines that a log file keeps apart, no carriage returns.
        assertFalse(result.err().contains("\r"), result.err());
        assertTrue(result.err().contains("baseline: 4/4 test images scored" + System.lineSeparator()), result.err());

        Run onTrain = run("baseline", "--data", directory.toString(), "--split", "train");
        assertEquals(0, onTrain.status(), onTrain.err());
        assertEquals(expectedElbo(train, 7, train, 7), onTrain.value("ELBO"), 1e-4);
    }

    @Test
    void binarizedScoresAreReproducibleAndDifferent(TestRandom random) throws IOException {
        IdxFiles.writeSplit(directory, "train", ROWS, COLUMNS, random.pixels(6 * DIMS), new byte[6], false);
        IdxFiles.writeSplit(directory, "t10k", ROWS, COLUMNS, random.pixels(5 * DIMS), new byte[5], false);
        String seed = Long.toString(random.nextLong());
        Run first = run("baseline", "--data", directory.toString(), "--binarize", seed);
        Run second = run("baseline", "--data", directory.toString(), "--binarize", seed);
        Run continuous = run("baseline", "--data", directory.toString());
        assertEquals(0, first.status(), first.err());
        assertEquals(first.value("ELBO"), second.value("ELBO"), 0.0);
        assertNotEquals(continuous.value("ELBO"), first.value("ELBO"));
        assertTrue(first.out().contains("binarized (seed " + seed + ")"), first.out());
    }

    @Test
    void userErrorsGiveAMessageAndANonZeroStatusButNoStackTrace(TestRandom random) throws IOException {
        Run missing = run("baseline", "--data", directory.resolve("absent").toString());
        assertEquals(Main.EXIT_FAILURE, missing.status());
        assertTrue(missing.err().contains("no such directory"), missing.err());
        assertNoStackTrace(missing);

        Run empty = run("baseline", "--data", directory.toString());
        assertEquals(Main.EXIT_FAILURE, empty.status());
        assertTrue(empty.err().contains("train-images-idx3-ubyte"), empty.err());
        assertNoStackTrace(empty);

        Files.write(directory.resolve("train-images-idx3-ubyte"), new byte[] {1, 2, 3, 4, 5});
        Files.write(directory.resolve("train-labels-idx1-ubyte"), IdxFiles.idxBytes(new int[] {1}, new byte[1]));
        Run malformed = run("baseline", "--data", directory.toString());
        assertEquals(Main.EXIT_FAILURE, malformed.status());
        assertTrue(malformed.err().contains("train-images-idx3-ubyte: not an IDX file"), malformed.err());
        assertNoStackTrace(malformed);

        IdxFiles.writeSplit(directory, "train", ROWS, COLUMNS, random.pixels(2 * DIMS), new byte[2], false);
        IdxFiles.writeSplit(directory, "t10k", COLUMNS, COLUMNS, random.pixels(2 * COLUMNS * COLUMNS), new byte[2],
                false);
        Run mismatched = run("baseline", "--data", directory.toString());
        assertEquals(Main.EXIT_FAILURE, mismatched.status());
        assertTrue(mismatched.err().contains("5 x 5 = 25 pixels but the model was fit to 15"), mismatched.err());
        assertNoStackTrace(mismatched);

        Run badOption = run("baseline", "--data", directory.toString(), "--split", "validation");
        assertEquals(2, badOption.status());
        assertTrue(badOption.err().contains("--split"), badOption.err());
        Run noCommand = run();
        assertEquals(2, noCommand.status());
        assertTrue(noCommand.err().contains("Missing a subcommand"), noCommand.err());
    }

    /** On a terminal the progress is redrawn in place, ending with one line break. */
    @Test
    void progressIsRedrawnInPlaceOnlyOnATerminal(TestRandom random) throws IOException {
        IdxFiles.writeSplit(directory, "train", ROWS, COLUMNS, random.pixels(3 * DIMS), new byte[3], false);
        IdxFiles.writeSplit(directory, "t10k", ROWS, COLUMNS, random.pixels(2 * DIMS), new byte[2], false);
        StringWriter err = new StringWriter();
        CliEnvironment terminal = new CliEnvironment(Cli.noGpu().gpuReport(), Cli.noGpu().gpuProbe(), true,
                Duration.ZERO, Interrupts.ignoring());
        int status = Main.execute(new String[] {"baseline", "--data", directory.toString()},
                new PrintWriter(new StringWriter()), new PrintWriter(err), terminal);
        assertEquals(0, status, err.toString());
        assertTrue(err.toString().contains("\rbaseline: 2/2 test images scored" + System.lineSeparator()),
                err.toString());
        assertFalse(Terminal.isTerminal(-1), "an invalid descriptor is no terminal");
    }

    private static void assertNoStackTrace(Run run) {
        assertFalse(run.err().contains("\tat ") || run.err().contains("Exception"), run.err());
    }

    /**
     * The baseline's mean log-likelihood computed independently: p_d = clamp(mean of pixel/255, 0.5/N, 1 - 0.5/N),
     * logits rounded to float as the model stores them, x = pixel/255 in float, log p = sum x l - log(1 + e^l).
     */
    private static double expectedElbo(byte[] train, int trainCount, byte[] test, int testCount) {
        double[] logits = new double[DIMS];
        for (int d = 0; d < DIMS; d++) {
            double sum = 0;
            for (int image = 0; image < trainCount; image++) {
                sum += (train[image * DIMS + d] & 0xFF) / 255.0;
            }
            double p = Math.clamp(sum / trainCount, 0.5 / trainCount, 1 - 0.5 / trainCount);
            logits[d] = (float) Math.log(p / (1 - p));
        }
        double total = 0;
        for (int image = 0; image < testCount; image++) {
            for (int d = 0; d < DIMS; d++) {
                double x = (float) ((test[image * DIMS + d] & 0xFF) / 255.0);
                total += x * logits[d] - Math.log1p(Math.exp(logits[d]));
            }
        }
        return total / testCount;
    }
}
