package dev.elbo4j.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import static dev.elbo4j.bench.TextTable.fixed;
import static dev.elbo4j.bench.TextTable.percent;
import static dev.elbo4j.bench.TextTable.ratio;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * Reads JMH result files ({@code -rf json}) of the benchmarks in this package, and optionally the PyTorch
 * peer's JSON, and prints side-by-side tables: the device-to-device copy bandwidth, each fused kernel against
 * its unfused sequence (time, ratio, achieved bandwidth and its share of the copy bandwidth), the GPU against
 * the CPU reference, elbo4j against PyTorch on the same GPU, and the performance targets met or missed.
 *
 * <p>Conventions it relies on (see {@link Traffic}): a benchmark class {@code <Operation>Bench} has methods
 * {@code fused}, {@code unfused} and {@code cpu}; GPU methods count {@code gpuNanos} (CUDA-event time),
 * {@code calls} and {@code bytesMoved}; the primary metric is the wall time per call in average-time mode.
 *
 * <pre>usage: report [--pytorch PEER.json] JMH.json...</pre>
 */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = "Side-by-side tables from JMH results (-rf json) of dev.elbo4j.bench, and the PyTorch peer's.")
public final class Report implements Callable<Integer> {
    /** The share of the copy bandwidth the Bernoulli loss-and-gradient kernel must reach at B = 4096. */
    static final double BERNOULLI_TARGET_SHARE = 0.85;
    /** Reads JMH's and the peer's JSON (both plain trees: no binding to classes). */
    private static final ObjectMapper JSON = new ObjectMapper();

    @Parameters(arity = "1..*", paramLabel = "JMH.json", description = "JMH result files, e.g. one per class")
    private List<Path> jmhFiles;

    @Option(names = "--pytorch", paramLabel = "PEER.json",
            description = "the output of bench/pytorch/elbo_peer.py on the same GPU")
    private Path peerFile;

    private Report() {
    }

    public static void main(String[] args) {
        CommandLine command = new CommandLine(new Report())
                // A missing or malformed file: one line naming it, not a stack trace.
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    cmd.getErr().println("report: " + e);
                    return 1;
                });
        System.exit(command.execute(args));
    }

    @Override
    public Integer call() throws IOException {
        List<Measurement> measurements = new ArrayList<>();
        for (Path file : jmhFiles) {
            measurements.addAll(readJmh(file));
        }
        Peer peer = peerFile == null ? new Peer("", List.of()) : readPeer(peerFile);
        print(measurements, peer, System.out);
        return 0;
    }

    /**
     * One benchmark result. Times in microseconds per call; {@code gpuMicros} and {@code bytesPerCall} are NaN
     * when the benchmark did not count them. {@code backend}: the {@code elbo4j.cuda.library} the JVM ran with,
     * empty for the real CUDA driver.
     */
    record Measurement(String operation, String method, Map<String, String> params, double wallMicros,
                       double gpuMicros, double bytesPerCall, String backend) {
        /** Bytes per nanosecond of GPU time, i.e. GB/s (NaN without GPU time). */
        double gpuGigabytesPerSecond() {
            return bytesPerCall / (gpuMicros * 1e3);
        }

        String key() {
            return operation + " " + formatParams(params);
        }
    }

    /** The PyTorch peer's results and what produced them ("torch 2.5.1, CUDA 12.4, on NVIDIA H100 ..."). */
    record Peer(String description, List<PeerMeasurement> measurements) {
    }

    /** One PyTorch peer result: GPU microseconds per call measured with CUDA events. */
    record PeerMeasurement(String operation, String variant, Map<String, String> params, double gpuMicros,
                           double bytesPerCall) {
    }

    static List<Measurement> readJmh(Path file) throws IOException {
        JsonNode document = JSON.readTree(file.toFile());
        if (!document.isArray()) {
            throw new IllegalArgumentException(file + ": not a JMH JSON result (expected a top-level array)");
        }
        List<Measurement> out = new ArrayList<>();
        for (JsonNode result : document) {
            String benchmark = text(result, "benchmark", file);
            String mode = text(result, "mode", file);
            if (!"avgt".equals(mode)) {
                throw new IllegalArgumentException(file + ": " + benchmark + " ran in mode " + mode
                        + "; the report reads average-time results only (-bm avgt)");
            }
            int methodDot = benchmark.lastIndexOf('.');
            String className = benchmark.substring(benchmark.lastIndexOf('.', methodDot - 1) + 1, methodDot);
            String operation = className.endsWith("Bench")
                    ? className.substring(0, className.length() - "Bench".length()) : className;
            Map<String, String> params = new TreeMap<>();
            result.path("params").properties().forEach(entry -> params.put(entry.getKey(), entry.getValue().asText()));
            JsonNode primary = object(result, "primaryMetric", file);
            double wallMicros = toMicros(number(primary.get("score")), text(primary, "scoreUnit", file), benchmark);
            JsonNode secondary = result.path("secondaryMetrics");
            double calls = number(secondary.path("calls").get("score"));
            double gpuNanos = number(secondary.path("gpuNanos").get("score"));
            double bytes = number(secondary.path("bytesMoved").get("score"));
            double gpuMicros = calls > 0 && gpuNanos > 0 ? gpuNanos / calls / 1e3 : Double.NaN;
            double bytesPerCall = calls > 0 && bytes > 0 ? bytes / calls : Double.NaN;
            out.add(new Measurement(operation, benchmark.substring(methodDot + 1), params, wallMicros, gpuMicros,
                    bytesPerCall, backendOf(result.path("jvmArgs"))));
        }
        return out;
    }

    static Peer readPeer(Path file) throws IOException {
        JsonNode document = JSON.readTree(file.toFile());
        JsonNode results = document.path("results");
        if (!results.isArray()) {
            throw new IllegalArgumentException(file + ": no \"results\" array");
        }
        List<PeerMeasurement> out = new ArrayList<>();
        for (JsonNode result : results) {
            Map<String, String> params = new TreeMap<>();
            object(result, "params", file).properties()
                    .forEach(entry -> params.put(entry.getKey(), paramText(entry.getValue())));
            out.add(new PeerMeasurement(text(result, "operation", file), text(result, "variant", file), params,
                    number(result.get("gpu_us_per_call")), number(result.get("bytes_per_call"))));
        }
        String description = "torch " + document.path("torch").asText() + ", CUDA " + document.path("cuda").asText()
                + ", on " + document.path("device").asText();
        return new Peer(description, out);
    }

    /** The value of {@code -Delbo4j.cuda.library=} among a JMH result's JVM arguments ("" when absent or empty). */
    private static String backendOf(JsonNode jvmArgs) {
        String option = "-Delbo4j.cuda.library=";
        for (JsonNode argument : jvmArgs) {
            String text = argument.asText();
            if (text.startsWith(option)) {
                return text.substring(option.length()).strip();
            }
        }
        return "";
    }

    static void print(List<Measurement> measurements, Peer peer, PrintStream out) {
        Optional<Measurement> copy = measurements.stream()
                .filter(m -> m.operation().equals("DeviceCopy") && !Double.isNaN(m.gpuGigabytesPerSecond()))
                .max(Comparator.comparingDouble(Measurement::bytesPerCall));
        double copyBandwidth = copy.map(Measurement::gpuGigabytesPerSecond).orElse(Double.NaN);

        out.println("elbo4j benchmark report");
        out.println("GPU times are CUDA-event times per call over a batch of back-to-back calls; wall times are");
        out.println("JMH's average per call (launches plus one synchronization per batch). GB/s = the bytes the");
        out.println("operation must read and write once / GPU time.");
        measurements.stream().map(Measurement::backend).filter(backend -> !backend.isEmpty()).distinct()
                .forEach(backend -> out.println("NOTE: run with elbo4j.cuda.library=" + backend
                        + " instead of the CUDA driver: for the emulator, these \"GPU\" times measure the CPU."));
        out.println();

        TextTable copies = new TextTable("Device-to-device copy (cuMemcpyDtoD; bytes = read + write)", 1,
                "params", "GPU us/copy", "GB/s");
        measurements.stream().filter(m -> m.operation().equals("DeviceCopy"))
                .forEach(m -> copies.row(formatParams(m.params()), fixed(m.gpuMicros()),
                        fixed(m.gpuGigabytesPerSecond())));
        copies.print(out);
        out.println(copy.isPresent()
                ? "reference bandwidth: " + fixed(copyBandwidth) + " GB/s (the largest copy)"
                : "reference bandwidth: none measured (run DeviceCopyBench in the same session)");
        out.println();

        Map<String, Map<String, Measurement>> byKey = new LinkedHashMap<>();
        measurements.stream()
                .filter(m -> !m.operation().equals("DeviceCopy"))
                .sorted(Comparator.comparing(Measurement::operation)
                        .thenComparing(m -> batchOf(m.params()))
                        .thenComparing(m -> formatParams(m.params())))
                .forEach(m -> byKey.computeIfAbsent(m.key(), k -> new LinkedHashMap<>()).put(m.method(), m));

        TextTable fusion = new TextTable("Fused vs unfused on the GPU (GPU time per call)", 2,
                "operation", "params", "fused us", "unfused us", "unfused/fused", "fused GB/s", "% of copy",
                "unfused GB/s", "fused wall us");
        TextTable cpu = new TextTable("GPU vs the CPU reference (wall time per call)", 2,
                "operation", "params", "GPU fused us", "CPU us", "CPU/GPU", "CPU GB/s");
        List<String> targets = new ArrayList<>();
        byKey.forEach((key, methods) -> {
            Measurement fused = methods.get("fused");
            Measurement unfused = methods.get("unfused");
            Measurement reference = methods.get("cpu");
            Measurement any = methods.values().iterator().next();
            String operation = any.operation();
            String params = formatParams(any.params());
            if (reference != null) {
                double gpuWall = fused == null ? Double.NaN : fused.wallMicros();
                cpu.row(operation, params, fixed(gpuWall), fixed(reference.wallMicros()),
                        ratio(reference.wallMicros() / gpuWall),
                        fixed(reference.bytesPerCall() / (reference.wallMicros() * 1e3)));
            }
            if (fused == null) {
                return;
            }
            double share = fused.gpuGigabytesPerSecond() / copyBandwidth;
            fusion.row(operation, params, fixed(fused.gpuMicros()),
                    unfused == null ? "-" : fixed(unfused.gpuMicros()),
                    unfused == null ? "-" : ratio(unfused.gpuMicros() / fused.gpuMicros()),
                    fixed(fused.gpuGigabytesPerSecond()), percent(share),
                    unfused == null ? "-" : fixed(unfused.gpuGigabytesPerSecond()), fixed(fused.wallMicros()));
            if (unfused != null) {
                targets.add(verdict(fused.gpuMicros() < unfused.gpuMicros(), key + ": fused beats unfused ("
                        + fixed(fused.gpuMicros()) + " vs " + fixed(unfused.gpuMicros()) + " us)"));
            }
            if (operation.equals("BernoulliLoss") && "4096".equals(fused.params().get("batch"))) {
                targets.add(verdict(share >= BERNOULLI_TARGET_SHARE, key + ": reaches "
                        + percent(share) + " of the copy bandwidth (target "
                        + percent(BERNOULLI_TARGET_SHARE) + ")"));
            }
        });
        fusion.print(out);
        out.println();
        cpu.print(out);
        out.println();

        if (!peer.measurements().isEmpty()) {
            TextTable versus = new TextTable("elbo4j vs PyTorch (" + peer.description() + "; GPU time per call)",
                    3,
                    "operation", "params", "PyTorch variant", "PyTorch us", "elbo4j fused us", "PyTorch/elbo4j",
                    "PyTorch GB/s");
            for (PeerMeasurement p : peer.measurements()) {
                Optional<Measurement> ours = measurements.stream()
                        .filter(m -> m.operation().equals(p.operation()))
                        .filter(m -> m.method().equals("fused") || m.operation().equals("DeviceCopy"))
                        .filter(m -> m.params().entrySet().containsAll(p.params().entrySet()))
                        .findFirst();
                versus.row(p.operation(), formatParams(p.params()), p.variant(), fixed(p.gpuMicros()),
                        ours.map(m -> fixed(m.gpuMicros())).orElse("-"),
                        ours.map(m -> ratio(p.gpuMicros() / m.gpuMicros())).orElse("-"),
                        fixed(p.bytesPerCall() / (p.gpuMicros() * 1e3)));
            }
            versus.print(out);
            out.println();
        }

        boolean emulated = measurements.stream().anyMatch(m -> !m.backend().isEmpty());
        // The targets are about a GPU; an emulator run only shows that the report works.
        out.println(emulated ? "Targets (NOT a GPU measurement: these results come from the CPU emulator)" : "Targets");
        if (targets.isEmpty()) {
            out.println("  (no fused/unfused pairs in these results)");
        }
        targets.forEach(line -> out.println("  " + line));
    }

    private static String verdict(boolean met, String what) {
        return (met ? "met      " : "NOT MET  ") + what;
    }

    private static int batchOf(Map<String, String> params) {
        String batch = params.get("batch");
        return batch == null ? 0 : Integer.parseInt(batch);
    }

    static String formatParams(Map<String, String> params) {
        StringBuilder text = new StringBuilder();
        params.forEach((name, value) -> text.append(text.isEmpty() ? "" : " ").append(name).append('=').append(value));
        return text.toString();
    }

    private static double toMicros(double score, String unit, String benchmark) {
        return switch (unit) {
            case "ns/op" -> score / 1e3;
            case "us/op" -> score;
            case "ms/op" -> score * 1e3;
            case "s/op" -> score * 1e6;
            default -> throw new IllegalArgumentException(benchmark + ": unexpected unit " + unit);
        };
    }

    /** A number, or NaN where it is absent; JMH writes non-finite numbers as strings ("NaN"). */
    private static double number(JsonNode value) {
        if (value == null || value.isNull() || value.isMissingNode()) {
            return Double.NaN;
        }
        if (value.isNumber()) {
            return value.doubleValue();
        }
        if (value.isTextual()) {
            return Double.parseDouble(value.textValue());
        }
        throw new IllegalArgumentException("not a number: " + value);
    }

    /** Parameters from Python may be numbers; they compare with JMH's string parameters as integers. */
    private static String paramText(JsonNode value) {
        if (value.isNumber() && value.doubleValue() == Math.rint(value.doubleValue())) {
            return Long.toString(value.longValue());
        }
        return value.asText();
    }

    private static JsonNode object(JsonNode parent, String field, Path file) {
        JsonNode value = parent.get(field);
        if (value == null || !value.isObject()) {
            throw new IllegalArgumentException(file + ": expected a JSON object at \"" + field + "\", found " + value);
        }
        return value;
    }

    private static String text(JsonNode parent, String field, Path file) {
        JsonNode value = parent.get(field);
        if (value == null || !value.isTextual()) {
            throw new IllegalArgumentException(file + ": expected a string at \"" + field + "\", found " + value);
        }
        return value.textValue();
    }
}
