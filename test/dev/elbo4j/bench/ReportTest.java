package dev.elbo4j.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The kernel report reads JMH's JSON results and the PyTorch peer's, and refuses what it cannot use. */
class ReportTest {
    /** Two results as JMH 1.37 writes them with {@code -rf json}: a GPU method with counters, a CPU one. */
    private static final String JMH = """
            [
              {"jmhVersion": "1.37", "benchmark": "dev.elbo4j.bench.BernoulliLossBench.fused", "mode": "avgt",
               "threads": 1, "forks": 1, "jvmArgs": ["--enable-native-access=ALL-UNNAMED",
               "-Delbo4j.cuda.library=/x/libelbo4j-cudaemu.so"],
               "params": {"batch": "4096", "rotateMiB": "256", "x": "float32"},
               "primaryMetric": {"score": 12.5, "scoreError": "NaN", "scoreUnit": "us/op"},
               "secondaryMetrics": {
                 "calls": {"score": 1000.0, "scoreUnit": "#"},
                 "gpuNanos": {"score": 1.0E7, "scoreUnit": "#"},
                 "bytesMoved": {"score": 3.0E10, "scoreUnit": "#"}}},
              {"jmhVersion": "1.37", "benchmark": "dev.elbo4j.bench.BernoulliLossBench.cpu", "mode": "avgt",
               "params": {"batch": "4096", "rotateMiB": "256", "x": "float32"},
               "primaryMetric": {"score": 2.5, "scoreUnit": "ms/op"}, "secondaryMetrics": {}}
            ]
            """;

    @Test
    void readsJmhResults(@TempDir Path directory) throws Exception {
        Path file = Files.writeString(directory.resolve("jmh.json"), JMH);
        List<Report.Measurement> measurements = Report.readJmh(file);
        assertEquals(2, measurements.size());
        Report.Measurement fused = measurements.get(0);
        assertEquals("BernoulliLoss", fused.operation());
        assertEquals("fused", fused.method());
        assertEquals(Map.of("batch", "4096", "rotateMiB", "256", "x", "float32"), fused.params());
        assertEquals(12.5, fused.wallMicros());
        assertEquals(10.0, fused.gpuMicros(), 1e-12);          // 1e7 ns / 1000 calls
        assertEquals(3.0e7, fused.bytesPerCall(), 1e-3);
        assertEquals("/x/libelbo4j-cudaemu.so", fused.backend());
        Report.Measurement cpu = measurements.get(1);
        assertEquals(2500.0, cpu.wallMicros());
        assertTrue(Double.isNaN(cpu.gpuMicros()));
        assertEquals("", cpu.backend());

        ByteArrayOutputStream text = new ByteArrayOutputStream();
        Report.print(measurements, new Report.Peer("", List.of()), new PrintStream(text, true, StandardCharsets.UTF_8));
        assertTrue(text.toString(StandardCharsets.UTF_8).contains("BernoulliLoss"));
    }

    @Test
    void readsThePeersResults(@TempDir Path directory) throws Exception {
        Path file = Files.writeString(directory.resolve("peer.json"), """
                {"torch": "2.11.0", "cuda": "13.0", "device": "NVIDIA H200", "results": [
                  {"operation": "BernoulliLoss", "variant": "eager", "params": {"batch": 4096},
                   "gpu_us_per_call": 20.0, "bytes_per_call": 1.0E7}]}
                """);
        Report.Peer peer = Report.readPeer(file);
        assertEquals("torch 2.11.0, CUDA 13.0, on NVIDIA H200", peer.description());
        assertEquals(Map.of("batch", "4096"), peer.measurements().getFirst().params());
        assertEquals(20.0, peer.measurements().getFirst().gpuMicros());
    }

    @Test
    void refusesWhatItCannotRead(@TempDir Path directory) throws Exception {
        Path notAnArray = Files.writeString(directory.resolve("object.json"), "{\"benchmark\": 1}");
        assertThrows(IllegalArgumentException.class, () -> Report.readJmh(notAnArray));
        Path throughput = Files.writeString(directory.resolve("thrpt.json"), JMH.replace("\"avgt\"", "\"thrpt\""));
        assertThrows(IllegalArgumentException.class, () -> Report.readJmh(throughput));
        Path malformed = Files.writeString(directory.resolve("bad.json"), "[{\"benchmark\": ");
        assertThrows(JsonProcessingException.class, () -> Report.readJmh(malformed));
    }
}
