package dev.elbo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import dev.elbo4j.reference.TestRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real signal to a real process: {@code elbo4j train} in a child JVM, interrupted once it has finished an epoch.
 * It must stop after the step under way, write the checkpoint, say where, and exit 130 (143 for SIGTERM).
 */
@ExtendWith(TestRandom.Extension.class)
class CtrlCTest {

    @TempDir
    Path directory;

    @Test
    void sigintStopsTrainingWithACheckpointAndStatus130(TestRandom random) throws Exception {
        Path data = Cli.tinyData(directory.resolve("data"), random, 64, 16);
        Path out = directory.resolve("run");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                .toString(), "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                Main.class.getName(), "train"));
        command.addAll(List.of(Cli.tinyModel("--data", data.toString(), "--out", out.toString(), "--epochs",
                "1000000", "--device", "cpu", "--progress", "none")));
        Process child = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            List<String> lines = new ArrayList<>();
            BufferedReader stdout = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8));
            String line;
            while ((line = stdout.readLine()) != null && !line.startsWith("epoch 1/")) {
                lines.add(line);
            }
            assertTrue(line != null, "the child ended before its first epoch:\n" + String.join("\n", lines));
            // A process started with SIGINT ignored (a background job of a non-interactive shell) keeps it ignored,
            // and the JVM honours that: then the same stop is asked for with SIGTERM.
            boolean catchesSigint = (signalMask(child.pid(), "SigCgt:") & 2L) != 0;
            String signal = catchesSigint ? "INT" : "TERM";
            int expected = catchesSigint ? Main.EXIT_INTERRUPTED : 143;
            assertEquals(0, new ProcessBuilder("kill", "-" + signal, Long.toString(child.pid())).start().waitFor());
            assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the child did not stop within a minute of SIG" + signal);
            StringBuilder rest = new StringBuilder();
            while ((line = stdout.readLine()) != null) {
                rest.append(line).append('\n');
            }
            assertEquals(expected, child.exitValue(), "exit status after SIG" + signal + "; output:\n" + rest);
            Path checkpoint = out.resolve(RunFolder.CHECKPOINT);
            assertTrue(rest.toString().contains("checkpoint written to " + checkpoint), rest.toString());
            assertTrue(rest.toString().contains("continue with: elbo4j train --resume " + checkpoint), rest.toString());
            assertTrue(RunCheckpoint.read(checkpoint).training().orElseThrow().epoch() >= 1);
        } finally {
            child.destroyForcibly();
        }
    }

    /** A signal mask of /proc/PID/status ("SigCgt:", "SigIgn:"), bit n-1 for signal n. */
    private static long signalMask(long pid, String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith(field)) {
                return Long.parseUnsignedLong(line.substring(field.length()).strip(), 16);
            }
        }
        throw new AssertionError("no " + field + " in /proc/" + pid + "/status");
    }
}
