package dev.elbo4j.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.data.Idx;
import dev.elbo4j.nn.Backend;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * elbo4j's training against PyTorch's, measured in one run and printed as one table: for each chosen row (model,
 * batch, GEMM precision) the JMH benchmark of elbo4j's training step ({@link CpuTrainingBench}, or on a GPU
 * {@code CudaTrainingBench}), its GEMMs alone (the floor) and the rest of the step, then the PyTorch peer
 * ({@code bench/pytorch/vae_train.py speed}) on the same model, batch, data and thread count; and before the rows,
 * the agreement check: a few elbo4j steps from one checkpoint ({@link AgreementFixture}) redone by PyTorch from the
 * same weights, batches and noise. The table goes to standard output, the same numbers (and the raw ones) as JSON
 * to {@code --json}. {@code bench/compare-training.sh} runs it with the class path; see bench/README.md.
 */
@Command(name = "compare-training", mixinStandardHelpOptions = true, sortOptions = false,
        description = "elbo4j's training steps/s beside PyTorch's, in one run, as one table (and JSON).")
public final class TrainingComparison implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** The agreement check's model and batch: the PyTorch example's. */
    private static final String AGREEMENT_MODEL = "784-400-20";
    private static final int AGREEMENT_BATCH = 128;
    private static final int AGREEMENT_STEPS = 3;
    /** Agreement tolerances (relative): FP32 on both sides differs only in summation order. */
    private static final double FP32_LOSS_TOLERANCE = 1e-5;
    private static final double FP32_GRADIENT_TOLERANCE = 1e-4;

    @Option(names = "--rows", split = ",", paramLabel = "MODEL/BATCH",
            description = "rows to measure, e.g. 784-400-20/128 (default: 784-400-20 and 784-512-512-32 at "
                    + "batch 128 and 1024)")
    private List<String> rows = List.of("784-400-20/128", "784-400-20/1024", "784-512-512-32/128",
            "784-512-512-32/1024");

    @Option(names = "--threads", description = "threads of elbo4j's backend and of PyTorch (default: every "
            + "processor, ${DEFAULT-VALUE})")
    private int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--python", description = "the Python with PyTorch (default: ${DEFAULT-VALUE}, Debian's "
            + "python3-torch)")
    private String python = "/usr/bin/python3";

    @Option(names = "--peer", description = "the PyTorch peer script (default: ${DEFAULT-VALUE})")
    private Path peerScript = Path.of("bench/pytorch/vae_train.py");

    @Option(names = "--no-peer", description = "measure elbo4j alone")
    private boolean noPeer;

    @Option(names = "--peer-steps", description = "PyTorch's timed steps per repeat (default: 200 at batch "
            + "128, 25 at 1024, scaled by batch)")
    private Integer peerSteps;

    @Option(names = "--peer-repeats", description = "PyTorch's timed repeats (default: ${DEFAULT-VALUE})")
    private int peerRepeats = 3;

    @Option(names = "--data", description = "Fashion-MNIST's directory (default: ${DEFAULT-VALUE})")
    private Path data = TrainingProblem.DEFAULT_DATA;

    @Option(names = "--json", description = "where the JSON goes (default: ${DEFAULT-VALUE})")
    private Path json = Path.of("target/bench/training-cpu.json");

    @Option(names = "--work", description = "JMH logs and the agreement fixture (default: ${DEFAULT-VALUE})")
    private Path work = Path.of("target/bench/training-cpu");

    @Option(names = "--quick", description = "a plumbing check, not a measurement: 1 short JMH iteration, "
            + "a few PyTorch steps")
    private boolean quick;

    @Option(names = "--command", hidden = true, description = "the command line to record (set by the script)")
    private String commandLine = "";

    private TrainingComparison() {
    }

    public static void main(String[] args) {
        CommandLine command = new CommandLine(new TrainingComparison())
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    cmd.getErr().println("compare-training: " + e.getMessage());
                    return 1;
                });
        System.exit(command.execute(args));
    }

    /** One row of the table. */
    record Row(String model, int batch, GemmPrecision precision) {
        /** "784-400-20/128" or "784-400-20/128/tf32". */
        static Row parse(String text) {
            String[] parts = text.strip().split("/");
            if (parts.length < 2 || parts.length > 3) {
                throw new IllegalArgumentException("a row is MODEL/BATCH[/PRECISION], e.g. 784-400-20/128, not '"
                        + text + "'");
            }
            TrainingProblem.spec(parts[0], GemmPrecision.FP32); // checks the model
            int batch;
            try {
                batch = Integer.parseInt(parts[1]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("the batch of row '" + text + "' is not a number", e);
            }
            GemmPrecision precision = parts.length == 3
                    ? GemmPrecision.valueOf(parts[2].toUpperCase(Locale.ROOT)) : GemmPrecision.FP32;
            return new Row(parts[0], batch, precision);
        }

        @Override
        public String toString() {
            return model + "/" + batch + (precision == GemmPrecision.FP32 ? "" : "/" + precision);
        }
    }

    /** JMH's milliseconds per call of one method, with its 99.9% error (NaN from a single iteration). */
    record Timing(double millis, double error) {
        double perSecond() {
            return 1e3 / millis;
        }
    }

    @Override
    public Integer call() throws Exception {
        List<Row> parsed = rows.stream().map(Row::parse).toList();
        if (threads < 1) {
            throw new IllegalArgumentException("--threads must be at least 1");
        }
        Files.createDirectories(work);
        Idx.Images images = TrainingProblem.epochImages(data); // fails here, clearly, when the data is missing
        ObjectNode report = JSON.createObjectNode();
        report.put("date", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        report.put("host", InetAddress.getLocalHost().getHostName());
        report.put("commit", System.getProperty("elbo4j.bench.commit", ""));
        report.put("command", commandLine);
        report.put("backend", "cpu");
        report.put("threads", threads);
        report.put("processors", Runtime.getRuntime().availableProcessors());
        report.put("data", data.toString());
        report.put("quick", quick);
        report.set("load_before", loadAverage());
        PrintStream out = System.out;
        out.println("compare-training: elbo4j's CPU backend and PyTorch, " + threads + " threads, data " + data
                + ", load average " + report.get("load_before"));
        warnAboutLoad(report.get("load_before"), out);

        String elbo4jDescription;
        try (Backend backend = dev.elbo4j.cpu.CpuBackend.create(threads)) {
            elbo4jDescription = backend.description();
            if (!noPeer) {
                Path fixture = work.resolve("agreement");
                AgreementFixture.write(backend, TrainingProblem.spec(AGREEMENT_MODEL, GemmPrecision.FP32),
                        AGREEMENT_BATCH, AGREEMENT_STEPS, images, fixture);
                report.set("agreement", agreement(fixture));
            }
        }
        report.put("elbo4j", elbo4jDescription);

        ArrayNode results = report.putArray("rows");
        for (Row row : parsed) {
            out.println("== " + row + ": elbo4j (JMH) ==");
            Map<String, Timing> elbo4j = jmh(row);
            ObjectNode result = results.addObject();
            result.put("model", row.model());
            result.put("batch", row.batch());
            result.put("precision", row.precision().name());
            ObjectNode ours = result.putObject("elbo4j");
            elbo4j.forEach((method, timing) -> {
                ObjectNode entry = ours.putObject(method);
                entry.put("ms_per_call", timing.millis());
                entry.put("ms_error", timing.error());
                entry.put("per_second", timing.perSecond());
            });
            out.printf(Locale.ROOT, "elbo4j: step %.3f ms, gemms %.3f ms, rest %.3f ms%n",
                    elbo4j.get("step").millis(), elbo4j.get("gemms").millis(), elbo4j.get("rest").millis());
            if (!noPeer) {
                out.println("== " + row + ": PyTorch ==");
                result.set("pytorch", peer(row));
            }
        }
        report.set("load_after", loadAverage());
        for (JsonNode row : results) {
            JsonNode peer = row.path("pytorch");
            if (peer.has("torch")) {
                report.put("pytorch", "torch " + peer.path("torch").asText() + " on " + peer.path("blas").asText()
                        + " (" + peer.path("config").asText(String.join(", ", peer.path("libraries")
                        .valueStream().map(JsonNode::asText).toList())) + "), " + peer.path("threads").asInt()
                        + " threads");
                break;
            }
        }

        out.println();
        printTable(report, out);
        Path parent = json.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        JSON.writeValue(json.toFile(), report);
        out.println("JSON: " + json);
        return 0;
    }

    // ------------------------------------------------------------------------------------------------ elbo4j

    /** JMH's results of {@link CpuTrainingBench}'s methods for {@code row}, by method name. */
    private Map<String, Timing> jmh(Row row) throws RunnerException {
        List<String> forkArguments = new ArrayList<>(List.of("--enable-native-access=ALL-UNNAMED",
                "-Delbo4j.bench.data=" + data.toAbsolutePath()));
        ChainedOptionsBuilder options = new OptionsBuilder()
                .include("^" + Pattern.quote(CpuTrainingBench.class.getName()) + "\\.(step|gemms|rest)$")
                .param("model", row.model())
                .param("batch", Integer.toString(row.batch()))
                .param("threads", Integer.toString(threads))
                .forks(1)
                .warmupIterations(quick ? 1 : 3)
                .warmupTime(TimeValue.seconds(1))
                .measurementIterations(quick ? 1 : 5)
                .measurementTime(TimeValue.seconds(1))
                .timeUnit(TimeUnit.MILLISECONDS)
                .jvmArgsAppend(forkArguments.toArray(String[]::new))
                .shouldFailOnError(true)
                .output(work.resolve("jmh-" + row.model() + "-" + row.batch() + ".log").toString());
        Collection<RunResult> results = new Runner(options.build()).run();
        Map<String, Timing> timings = new LinkedHashMap<>();
        for (RunResult result : results) {
            String benchmark = result.getParams().getBenchmark();
            String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
            timings.put(method, new Timing(result.getPrimaryResult().getScore(),
                    result.getPrimaryResult().getScoreError()));
        }
        for (String method : List.of("step", "gemms", "rest")) {
            if (!timings.containsKey(method)) {
                throw new IllegalStateException("JMH gave no result for " + method + " of " + row + "; see "
                        + work.resolve("jmh-" + row.model() + "-" + row.batch() + ".log"));
            }
        }
        return timings;
    }

    // ------------------------------------------------------------------------------------------------ PyTorch

    private JsonNode peer(Row row) throws IOException, InterruptedException {
        int steps = peerSteps != null ? peerSteps : quick ? 5 : Math.max(10, 25_600 / row.batch());
        Path output = work.resolve("pytorch-" + row.model() + "-" + row.batch() + ".json");
        List<String> command = List.of(python, peerScript.toString(), "speed", "--device", "cpu",
                "--model", row.model(), "--batch", Integer.toString(row.batch()),
                "--threads", Integer.toString(threads), "--steps", Integer.toString(steps),
                "--repeats", Integer.toString(quick ? 1 : peerRepeats), "--warmup", Integer.toString(quick ? 2 : 10),
                "--data", data.toString(), "--json", output.toString());
        return runPeer(command, output);
    }

    private JsonNode agreement(Path fixture) throws IOException, InterruptedException {
        Path output = fixture.resolve("agreement.json");
        System.out.println("== agreement: " + AGREEMENT_STEPS + " steps of " + AGREEMENT_MODEL + " at batch "
                + AGREEMENT_BATCH + ", elbo4j then PyTorch from the same checkpoint, batches and noise ==");
        JsonNode result = runPeer(List.of(python, peerScript.toString(), "agree", "--device", "cpu",
                "--threads", Integer.toString(threads), "--fixture", fixture.toString(), "--json",
                output.toString()), output);
        if (result instanceof ObjectNode node && !node.has("error")) {
            boolean agrees = node.path("max_loss_relative_difference").asDouble() <= FP32_LOSS_TOLERANCE
                    && node.path("max_gradient_relative_l2").asDouble() <= FP32_GRADIENT_TOLERANCE;
            node.put("agrees", agrees);
            node.put("loss_tolerance", FP32_LOSS_TOLERANCE);
            node.put("gradient_tolerance", FP32_GRADIENT_TOLERANCE);
        }
        return result;
    }

    /** Runs the peer (its output shown as it comes) and reads its JSON; a failure becomes {"error": ...}. */
    private static JsonNode runPeer(List<String> command, Path output) throws IOException, InterruptedException {
        Files.deleteIfExists(output);
        Process process = new ProcessBuilder(command).inheritIO().start();
        if (!process.waitFor(30, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            return JSON.createObjectNode().put("error", "the PyTorch peer ran over 30 minutes: " + command);
        }
        if (process.exitValue() != 0 || !Files.isRegularFile(output)) {
            return JSON.createObjectNode().put("error", "the PyTorch peer failed (exit " + process.exitValue()
                    + "; its message is above): " + String.join(" ", command));
        }
        return JSON.readTree(output.toFile());
    }

    // ------------------------------------------------------------------------------------------------ the table

    static void printTable(JsonNode report, PrintStream out) {
        out.println("Training steps per second, " + report.path("backend").asText() + ", "
                + report.path("threads").asInt() + " threads" + (report.path("quick").asBoolean()
                ? " (--quick: a plumbing check, NOT a measurement)" : ""));
        out.println("elbo4j:  " + report.path("elbo4j").asText());
        out.println("PyTorch: " + report.path("pytorch").asText("-"));
        Table table = new Table("model", "batch", "elbo4j steps/s", "PyTorch steps/s", "elbo4j/PyTorch",
                "GEMM floor steps/s", "% of floor", "GEMMs ms", "rest ms", "step ms");
        for (JsonNode row : report.path("rows")) {
            JsonNode ours = row.path("elbo4j");
            double step = ours.path("step").path("ms_per_call").asDouble(Double.NaN);
            double gemms = ours.path("gemms").path("ms_per_call").asDouble(Double.NaN);
            double rest = ours.path("rest").path("ms_per_call").asDouble(Double.NaN);
            double theirs = pytorchStepsPerSecond(row.path("pytorch"), "eager");
            table.row(row.path("model").asText(), row.path("batch").asText(), fixed(1e3 / step), fixed(theirs),
                    ratio(1e3 / step / theirs), fixed(1e3 / gemms), percent(gemms / step), fixed(gemms, 3),
                    fixed(rest, 3), fixed(step, 3));
        }
        table.print(out);
        out.println("  elbo4j: JMH average of the trainer's step; GEMM floor: the same step's sgemm calls alone;"
                + " % of floor = GEMMs ms / step ms;");
        out.println("  rest: the step without its GEMMs (elbo4j's own loops). PyTorch: mean steps/s over the"
                + " repeats (eager).");
        JsonNode agreement = report.path("agreement");
        if (agreement.has("error")) {
            out.println("Agreement: " + agreement.path("error").asText());
        } else if (!agreement.isMissingNode()) {
            out.printf(Locale.ROOT, "Agreement (%s, batch %d, %d steps from one checkpoint, same batches and noise):"
                            + " loss %.1e, gradients %.1e (relative L2, worst tensor %s), parameters after %.1e: %s%n",
                    agreement.path("model").asText(), agreement.path("batch").asInt(),
                    agreement.path("steps").size(), agreement.path("max_loss_relative_difference").asDouble(),
                    agreement.path("max_gradient_relative_l2").asDouble(),
                    agreement.path("worst_gradient").asText(),
                    agreement.path("max_final_parameters_relative_l2").asDouble(),
                    agreement.path("agrees").asBoolean() ? "agree" : "DIFFER");
        }
        out.println("Load average before " + report.path("load_before") + ", after " + report.path("load_after"));
    }

    /** The mean steps/s of the peer's {@code variant}, NaN when it is missing or failed. */
    static double pytorchStepsPerSecond(JsonNode peer, String variant) {
        for (JsonNode entry : peer.path("variants")) {
            if (variant.equals(entry.path("variant").asText()) && entry.has("steps_per_s")) {
                return entry.path("steps_per_s").asDouble();
            }
        }
        return Double.NaN;
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /** The 1, 5 and 15 minute load averages (empty where /proc/loadavg is missing). */
    static ArrayNode loadAverage() {
        ArrayNode load = JSON.createArrayNode();
        try {
            String[] fields = Files.readString(Path.of("/proc/loadavg")).strip().split("\\s+");
            for (int i = 0; i < 3; i++) {
                load.add(Double.parseDouble(fields[i]));
            }
        } catch (IOException | RuntimeException unreadable) {
            // not Linux: no load to report
        }
        return load;
    }

    private static void warnAboutLoad(JsonNode load, PrintStream out) {
        if (load.size() > 0 && load.get(0).asDouble() > 1.5) {
            out.println("WARNING: the 1-minute load average is " + load.get(0).asDouble() + ": other work shares "
                    + "the processors, so these numbers say little about either side");
        }
    }

    static String fixed(double value) {
        if (Double.isNaN(value) || Double.isInfinite(value)) {
            return "-";
        }
        return String.format(Locale.ROOT, value >= 100 ? "%.0f" : value >= 10 ? "%.1f" : "%.2f", value);
    }

    static String fixed(double value, int digits) {
        return Double.isNaN(value) ? "-" : String.format(Locale.ROOT, "%." + digits + "f", value);
    }

    static String ratio(double value) {
        return Double.isNaN(value) || Double.isInfinite(value) ? "-" : String.format(Locale.ROOT, "%.2fx", value);
    }

    static String percent(double share) {
        return Double.isNaN(share) ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * share);
    }

    /** A plain-text table: the header and the first two columns left-aligned, numbers right-aligned. */
    static final class Table {
        private final List<String[]> cells = new ArrayList<>();

        Table(String... header) {
            cells.add(header);
        }

        void row(String... row) {
            if (row.length != cells.getFirst().length) {
                throw new IllegalArgumentException(row.length + " cells for " + cells.getFirst().length + " columns");
            }
            cells.add(row);
        }

        void print(PrintStream out) {
            int columns = cells.getFirst().length;
            int[] widths = new int[columns];
            for (String[] row : cells) {
                for (int c = 0; c < columns; c++) {
                    widths[c] = Math.max(widths[c], row[c].length());
                }
            }
            for (String[] row : cells) {
                StringBuilder line = new StringBuilder(" ");
                for (int c = 0; c < columns; c++) {
                    boolean left = c < 2 || row == cells.getFirst();
                    line.append(String.format(Locale.ROOT, " %" + (left ? "-" : "") + widths[c] + "s", row[c]));
                }
                out.println(line.toString().stripTrailing());
            }
        }
    }
}
