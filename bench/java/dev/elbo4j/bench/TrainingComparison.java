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

import static dev.elbo4j.bench.TextTable.fixed;
import static dev.elbo4j.bench.TextTable.percent;
import static dev.elbo4j.bench.TextTable.ratio;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.data.Idx;
import dev.elbo4j.gpu.CudaBackend;
import dev.elbo4j.nn.Backend;
import org.openjdk.jmh.results.Result;
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
 * batch, GEMM precision) the JMH benchmark of elbo4j's training step, its GEMMs alone (the floor) and the step
 * split into its GEMMs and the rest ({@link CpuTrainingBench}; on a GPU {@link CudaTrainingBench}: the step replayed as a CUDA graph and run
 * directly, and the GEMMs), then the PyTorch peer ({@code bench/pytorch/vae_train.py speed}) on the same model,
 * batch, data and thread count (on a GPU: eager, torch.compile and torch.compile(mode="reduce-overhead")). Before the
 * rows, the agreement check: a few elbo4j steps from one checkpoint ({@link AgreementFixture}) redone by PyTorch from
 * the same weights, batches and noise; on a GPU also one whole epoch through the trainer. The table goes to standard
 * output, the same numbers (and the raw ones) as JSON to {@code --json}. {@code bench/compare-training.sh} runs it
 * here, {@code bench/gpu/run.sh train} in the GPU bundle; see bench/README.md.
 */
@Command(name = "compare-training", mixinStandardHelpOptions = true, sortOptions = false,
        description = "elbo4j's training steps/s beside PyTorch's, in one run, as one table (and JSON).")
public final class TrainingComparison implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** The agreement check's model and batch: the PyTorch example's. */
    private static final String AGREEMENT_MODEL = "784-400-20";
    private static final int AGREEMENT_BATCH = 128;
    private static final int AGREEMENT_STEPS = 3;

    /** Where elbo4j trains, with what each needs. */
    enum Platform {
        CPU(List.of("784-400-20/128", "784-400-20/1024", "784-512-512-32/128", "784-512-512-32/1024"),
                List.of("step", "gemms", "split"), "/usr/bin/python3", "eager"),
        CUDA(List.of("784-400-20/128", "784-400-20/4096", "784-512-512-32/128", "784-512-512-32/4096",
                "784-400-20/128/tf32", "784-400-20/4096/tf32", "784-512-512-32/128/tf32",
                "784-512-512-32/4096/tf32"),
                List.of("graph", "direct", "gemms"), "python3", "eager,compile,reduce-overhead");

        final List<String> defaultRows;
        final List<String> methods;
        final String defaultPython;
        final String peerVariants;

        Platform(List<String> defaultRows, List<String> methods, String defaultPython, String peerVariants) {
            this.defaultRows = defaultRows;
            this.methods = methods;
            this.defaultPython = defaultPython;
            this.peerVariants = peerVariants;
        }

        String benchmarkClass() {
            return this == CPU ? CpuTrainingBench.class.getName() : CudaTrainingBench.class.getName();
        }

        String device() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    @Option(names = "--backend", description = "cpu (default) or cuda")
    private Platform platform = Platform.CPU;

    @Option(names = "--rows", split = ",", paramLabel = "MODEL/BATCH[/PRECISION]",
            description = "rows to measure, e.g. 784-400-20/128 (default on the CPU: 784-400-20 and 784-512-512-32 "
                    + "at batch 128 and 1024; on a GPU at 128 and 4096, FP32 and TF32)")
    private List<String> rows;

    @Option(names = "--threads", description = "threads of elbo4j's CPU backend and of PyTorch on the CPU "
            + "(default: every processor, ${DEFAULT-VALUE})")
    private int threads = Runtime.getRuntime().availableProcessors();

    @Option(names = "--python", description = "the Python with PyTorch (default: /usr/bin/python3, Debian's "
            + "python3-torch, on the CPU; python3 on a GPU)")
    private String python;

    @Option(names = "--peer", description = "the PyTorch peer script (default: ${DEFAULT-VALUE})")
    private Path peerScript = Path.of("bench/pytorch/vae_train.py");

    @Option(names = "--no-peer", description = "measure elbo4j alone (no agreement check either)")
    private boolean noPeer;

    @Option(names = "--variants", description = "PyTorch's variants (default: eager on the CPU; eager, compile, "
            + "reduce-overhead on a GPU)")
    private String variants;

    @Option(names = "--peer-steps", description = "PyTorch's timed steps per repeat (default: 25600 / batch on "
            + "the CPU, 256000 / batch on a GPU, at least 10 and 200)")
    private Integer peerSteps;

    @Option(names = "--peer-repeats", description = "PyTorch's timed repeats (default: ${DEFAULT-VALUE})")
    private int peerRepeats = 3;

    @Option(names = "--no-agreement", description = "skip the agreement check")
    private boolean noAgreement;

    @Option(names = "--epoch", description = "on a GPU, the row of the one-epoch measurement (default: "
            + "${DEFAULT-VALUE}); none: skip it")
    private String epochRow = "784-400-20/128";

    @Option(names = "--data", description = "Fashion-MNIST's directory (default: ${DEFAULT-VALUE}); fewer than "
            + "60000 images there are repeated to an epoch of 60000")
    private Path data = TrainingProblem.DEFAULT_DATA;

    @Option(names = "--json", description = "where the JSON goes (default: target/bench/training-BACKEND.json)")
    private Path json;

    @Option(names = "--work", description = "JMH logs, PyTorch's JSON and the agreement fixtures (default: "
            + "target/bench/training-BACKEND)")
    private Path work;

    @Option(names = "--quick", description = "a plumbing check, not a measurement: 1 short JMH iteration, "
            + "a few PyTorch steps")
    private boolean quick;

    @Option(names = "--command", hidden = true, description = "the command line to record (set by the scripts)")
    private String commandLine = "";

    private TrainingComparison() {
    }

    public static void main(String[] args) {
        CommandLine command = new CommandLine(new TrainingComparison()).setCaseInsensitiveEnumValuesAllowed(true)
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
            GemmPrecision precision = GemmPrecision.FP32;
            if (parts.length == 3) {
                try {
                    precision = GemmPrecision.valueOf(parts[2].toUpperCase(Locale.ROOT));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("the precision of row '" + text + "' is fp32, tf32 or bf16",
                            e);
                }
            }
            return new Row(parts[0], batch, precision);
        }

        @Override
        public String toString() {
            return model + "/" + batch + (precision == GemmPrecision.FP32 ? "" : "/" + precision);
        }
    }

    /**
     * JMH's milliseconds per step (per epoch for the epoch) of one method, with its 99.9% error (NaN from a single
     * iteration), on a GPU the CUDA-event milliseconds per step, and for the CPU's {@code split} the milliseconds of
     * the GEMMs inside the step (NaN where not measured).
     */
    record Timing(double millis, double error, double gpuMillis, double gemmMillis) {
        double perSecond() {
            return 1e3 / millis;
        }
    }

    @Override
    public Integer call() throws Exception {
        List<Row> parsed = (rows != null ? rows : platform.defaultRows).stream().map(Row::parse).toList();
        if (threads < 1) {
            throw new IllegalArgumentException("--threads must be at least 1");
        }
        String backendName = platform.device();
        python = python != null ? python : platform.defaultPython;
        variants = variants != null ? variants : platform.peerVariants;
        json = json != null ? json : Path.of("target/bench/training-" + backendName + ".json");
        work = work != null ? work : Path.of("target/bench/training-" + backendName);
        Files.createDirectories(work);
        Idx.Images stored = TrainingProblem.trainingImages(data); // fails here, clearly, when the data is missing
        Idx.Images images = stored.count() >= TrainingProblem.EPOCH_IMAGES ? stored
                : TrainingProblem.repeated(stored, TrainingProblem.EPOCH_IMAGES);
        ObjectNode report = JSON.createObjectNode();
        report.put("date", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        report.put("host", InetAddress.getLocalHost().getHostName());
        report.put("commit", System.getProperty("elbo4j.bench.commit", ""));
        report.put("command", commandLine);
        report.put("backend", backendName);
        report.put("cuda_library", System.getProperty("elbo4j.cuda.library", ""));
        report.put("threads", threads);
        report.put("processors", Runtime.getRuntime().availableProcessors());
        report.put("data", data.toString());
        report.put("data_images", stored == images ? "Fashion-MNIST's " + images.count() + " training images"
                : "the first " + stored.count() + " of Fashion-MNIST's training images repeated to " + images.count());
        report.put("quick", quick);
        report.set("load_before", loadAverage());
        PrintStream out = System.out;
        out.println("compare-training: elbo4j (" + backendName + ") and PyTorch, data " + data + " ("
                + report.path("data_images").asText() + "), load average " + report.get("load_before"));
        if (platform == Platform.CPU) {
            warnAboutLoad(report.get("load_before"), out);
        }

        describeBackend(report);
        if (!noPeer && !noAgreement) {
            agreements(report.putArray("agreement"), images);
        }
        if (platform == Platform.CUDA && !"none".equals(epochRow)) {
            report.set("epoch", epoch(Row.parse(epochRow)));
        }
        ArrayNode results = report.putArray("rows");
        for (Row row : parsed) {
            results.add(measure(row));
            save(report);
        }
        report.set("load_after", loadAverage());
        for (JsonNode row : results) {
            JsonNode peer = row.path("pytorch");
            if (peer.has("torch")) {
                report.put("pytorch", peerDescription(peer));
                break;
            }
        }

        out.println();
        if (platform == Platform.CPU) {
            printCpuTable(report, out);
        } else {
            printGpuTable(report, out);
        }
        save(report);
        out.println("JSON: " + json);
        List<String> failures = failures(report);
        failures.forEach(failure -> out.println("FAILED: " + failure));
        return failures.isEmpty() ? 0 : 1;
    }

    /** The backend the rows run on (on a GPU the graph mode; its description says so). */
    private void describeBackend(ObjectNode report) {
        try (Backend backend = platform == Platform.CPU ? CpuBackend.create(threads)
                : CudaBackend.open(0, CudaBackend.StepMode.GRAPH)) {
            report.put("elbo4j", backend.description());
        }
    }

    /**
     * The agreement checks: FP32, and on a GPU also TF32. On a GPU elbo4j's steps run directly here: the fixture
     * copies to the host in the middle of a step, which a graph capture refuses.
     */
    private void agreements(ArrayNode agreements, Idx.Images images) throws IOException, InterruptedException {
        try (Backend backend = platform == Platform.CPU ? CpuBackend.create(threads)
                : CudaBackend.open(0, CudaBackend.StepMode.DIRECT)) {
            List<GemmPrecision> precisions = platform == Platform.CPU ? List.of(GemmPrecision.FP32)
                    : List.of(GemmPrecision.FP32, GemmPrecision.TF32);
            for (GemmPrecision precision : precisions) {
                Path fixture = work.resolve("agreement-" + precision.name().toLowerCase(Locale.ROOT));
                AgreementFixture.write(backend, TrainingProblem.spec(AGREEMENT_MODEL, precision), AGREEMENT_BATCH,
                        AGREEMENT_STEPS, images, fixture);
                agreements.add(agreement(fixture, precision));
            }
        }
    }

    /** One whole epoch through the trainer, by JMH in single-shot mode. */
    private ObjectNode epoch(Row row) throws RunnerException {
        System.out.println("== one epoch of " + row + " through the trainer (JMH, single shot) ==");
        Timing epoch = jmh(row, List.of("epoch")).get("epoch");
        ObjectNode entry = JSON.createObjectNode();
        entry.put("row", row.toString());
        entry.put("steps", TrainingProblem.EPOCH_IMAGES / row.batch());
        entry.put("seconds", epoch.millis() / 1e3);
        entry.put("seconds_error", epoch.error() / 1e3);
        return entry;
    }

    /** One row: elbo4j by JMH, then PyTorch. */
    private ObjectNode measure(Row row) throws RunnerException, IOException, InterruptedException {
        System.out.println("== " + row + ": elbo4j (JMH) ==");
        Map<String, Timing> elbo4j = jmh(row, platform.methods);
        ObjectNode result = JSON.createObjectNode();
        result.put("model", row.model());
        result.put("batch", row.batch());
        result.put("precision", row.precision().name());
        ObjectNode ours = result.putObject("elbo4j");
        elbo4j.forEach((method, timing) -> {
            ObjectNode entry = ours.putObject(method);
            entry.put("ms_per_step", timing.millis());
            entry.put("ms_error", timing.error());
            entry.put("steps_per_s", timing.perSecond());
            if (!Double.isNaN(timing.gpuMillis())) {
                entry.put("gpu_ms_per_step", timing.gpuMillis());
            }
            if (!Double.isNaN(timing.gemmMillis())) {
                entry.put("gemm_ms_per_step", timing.gemmMillis());
            }
        });
        System.out.println("elbo4j: " + String.join(", ", elbo4j.entrySet().stream()
                .map(e -> e.getKey() + " " + fixed(e.getValue().millis(), 3) + " ms").toList()));
        if (!noPeer) {
            System.out.println("== " + row + ": PyTorch ==");
            result.set("pytorch", peer(row, threads));
            if (platform == Platform.CPU && threads > 1) {
                // On a small machine PyTorch can run faster on one thread than on several: measured too, so the
                // comparison is with PyTorch at its best.
                System.out.println("== " + row + ": PyTorch on 1 thread ==");
                result.set("pytorch_1_thread", peer(row, 1));
            }
        }
        return result;
    }

    /** What went wrong on the PyTorch side: a peer that failed, a variant that failed, an agreement that differs. */
    static List<String> failures(JsonNode report) {
        List<String> failures = new ArrayList<>();
        for (JsonNode agreement : report.path("agreement")) {
            if (agreement.has("error")) {
                failures.add("agreement: " + agreement.path("error").asText());
            } else if (!agreement.path("agrees").asBoolean()) {
                failures.add("agreement " + agreement.path("precision").asText() + ": elbo4j and PyTorch differ");
            }
        }
        for (JsonNode row : report.path("rows")) {
            String name = row.path("model").asText() + "/" + row.path("batch").asText() + "/"
                    + row.path("precision").asText();
            for (String peer : List.of("pytorch", "pytorch_1_thread")) {
                if (row.path(peer).has("error")) {
                    failures.add("PyTorch at " + name + ": " + row.path(peer).path("error").asText());
                }
                for (JsonNode variant : row.path(peer).path("variants")) {
                    if (variant.has("error")) {
                        failures.add("PyTorch " + variant.path("variant").asText() + " at " + name + ": "
                                + variant.path("error").asText());
                    }
                }
            }
        }
        return failures;
    }

    /** Writes the report as it stands: after each row too, so a run cut short keeps what it measured. */
    private void save(ObjectNode report) throws IOException {
        Path parent = json.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        JSON.writeValue(json.toFile(), report);
    }

    private static String peerDescription(JsonNode peer) {
        String base = "torch " + peer.path("torch").asText();
        if (peer.has("gpu")) {
            return base + ", CUDA " + peer.path("cuda").asText() + ", on " + peer.path("gpu").asText();
        }
        String libraries = String.join(", ", peer.path("libraries").valueStream().map(JsonNode::asText).toList());
        return base + " on " + peer.path("blas").asText() + " (" + peer.path("config").asText(libraries) + "), "
                + peer.path("threads").asInt() + " threads";
    }

    // ------------------------------------------------------------------------------------------------ elbo4j

    private String logName(Row row, String what) {
        return what + "-" + row.model() + "-" + row.batch() + "-" + row.precision().name().toLowerCase(Locale.ROOT);
    }

    /** JMH's results of {@code methods} of the platform's benchmark class for {@code row}, by method name. */
    private Map<String, Timing> jmh(Row row, List<String> methods) throws RunnerException {
        List<String> forkArguments = new ArrayList<>(List.of("--enable-native-access=ALL-UNNAMED",
                "-Delbo4j.bench.data=" + data.toAbsolutePath()));
        String cudaLibrary = System.getProperty("elbo4j.cuda.library");
        if (cudaLibrary != null) {
            forkArguments.add("-Delbo4j.cuda.library=" + cudaLibrary);
        }
        Path log = work.resolve(logName(row, "jmh") + (methods.contains("epoch") ? "-epoch" : "") + ".log");
        ChainedOptionsBuilder options = new OptionsBuilder()
                .include("^" + Pattern.quote(platform.benchmarkClass()) + "\\.(" + String.join("|", methods) + ")$")
                .param("model", row.model())
                .param("batch", Integer.toString(row.batch()))
                .forks(1)
                .jvmArgsAppend(forkArguments.toArray(String[]::new))
                .shouldFailOnError(true)
                .output(log.toString());
        if (platform == Platform.CPU) {
            options.param("threads", Integer.toString(threads));
        } else {
            options.param("precision", row.precision().name());
        }
        if (!methods.contains("epoch")) {
            // A GPU reaches its steady state in far fewer steps than a second holds; the CPU's JIT takes longer.
            boolean cpu = platform == Platform.CPU;
            options.warmupIterations(quick ? 1 : cpu ? 3 : 2).warmupTime(TimeValue.seconds(1))
                    .measurementIterations(quick ? 1 : cpu ? 5 : 4).measurementTime(TimeValue.seconds(1));
        } else if (quick) {
            options.warmupIterations(0).measurementIterations(1);
        }
        Collection<RunResult> results = new Runner(options.build()).run();
        Map<String, Timing> timings = new LinkedHashMap<>();
        for (RunResult result : results) {
            String benchmark = result.getParams().getBenchmark();
            String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
            Result<?> primary = result.getPrimaryResult();
            double millis = primary.getScore() * switch (primary.getScoreUnit()) {
                case "s/op" -> 1e3;
                case "ms/op" -> 1;
                case "us/op" -> 1e-3;
                default -> throw new IllegalStateException(benchmark + ": unexpected unit " + primary.getScoreUnit());
            };
            double scale = millis / primary.getScore();
            Result<?> calls = result.getSecondaryResults().get("calls");
            Result<?> gpuNanos = result.getSecondaryResults().get("gpuNanos");
            double gpuMillis = calls != null && gpuNanos != null && calls.getScore() > 0
                    ? gpuNanos.getScore() / calls.getScore() / 1e6 : Double.NaN;
            Result<?> gemmNanos = result.getSecondaryResults().get("gemmNanos");
            double gemmMillis = calls != null && gemmNanos != null && calls.getScore() > 0
                    ? gemmNanos.getScore() / calls.getScore() / 1e6 : Double.NaN;
            timings.put(method, new Timing(millis, primary.getScoreError() * scale, gpuMillis, gemmMillis));
        }
        for (String method : methods) {
            if (!timings.containsKey(method)) {
                throw new IllegalStateException("JMH gave no result for " + method + " of " + row + "; see " + log);
            }
        }
        return timings;
    }

    // ------------------------------------------------------------------------------------------------ PyTorch

    private JsonNode peer(Row row, int peerThreads) throws IOException, InterruptedException {
        int steps = peerSteps != null ? peerSteps : quick ? 5 : platform == Platform.CPU
                ? Math.max(10, 25_600 / row.batch()) : Math.max(200, 256_000 / row.batch());
        Path output = work.resolve(logName(row, "pytorch") + "-" + peerThreads + "-threads.json");
        List<String> command = List.of(python, peerScript.toString(), "speed", "--device", platform.device(),
                "--model", row.model(), "--batch", Integer.toString(row.batch()),
                "--precision", row.precision().name().toLowerCase(Locale.ROOT), "--variants", variants,
                "--threads", Integer.toString(peerThreads), "--steps", Integer.toString(steps),
                "--repeats", Integer.toString(quick ? 1 : peerRepeats), "--warmup", Integer.toString(quick ? 3 : 20),
                "--data", data.toString(), "--json", output.toString());
        return runPeer(command, output);
    }

    /**
     * The agreement of the fixture in {@code fixture} with PyTorch, with the verdict against tolerances: FP32 on both
     * sides differs only in the order of float32 sums (loss 1e-5, gradients 1e-4 relative); TF32 rounds every GEMM
     * input to 10 bits of mantissa, differently on each side (loss 1e-3, gradients 3e-2).
     */
    private JsonNode agreement(Path fixture, GemmPrecision precision) throws IOException, InterruptedException {
        Path output = fixture.resolve("agreement.json");
        System.out.println("== agreement, " + precision + ": " + AGREEMENT_STEPS + " steps of " + AGREEMENT_MODEL
                + " at batch " + AGREEMENT_BATCH + ", elbo4j then PyTorch from the same checkpoint, batches and "
                + "noise ==");
        JsonNode result = runPeer(List.of(python, peerScript.toString(), "agree", "--device", platform.device(),
                "--threads", Integer.toString(threads), "--fixture", fixture.toString(), "--json",
                output.toString()), output);
        if (result instanceof ObjectNode node && !node.has("error")) {
            boolean tf32 = precision == GemmPrecision.TF32;
            double lossTolerance = tf32 ? 1e-3 : 1e-5;
            double gradientTolerance = tf32 ? 3e-2 : 1e-4;
            node.put("agrees", node.path("max_loss_relative_difference").asDouble() <= lossTolerance
                    && node.path("max_gradient_relative_l2").asDouble() <= gradientTolerance);
            node.put("loss_tolerance", lossTolerance);
            node.put("gradient_tolerance", gradientTolerance);
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

    // ------------------------------------------------------------------------------------------------ the tables

    private static void printHeader(JsonNode report, PrintStream out) {
        out.println("Training steps per second, " + report.path("backend").asText()
                + (report.path("backend").asText().equals("cpu") ? ", " + report.path("threads").asInt() + " threads"
                : "") + ", " + report.path("data_images").asText()
                + (report.path("quick").asBoolean() ? " (--quick: a plumbing check, NOT a measurement)" : ""));
        if (!report.path("cuda_library").asText().isEmpty()) {
            out.println("NOTE: elbo4j.cuda.library=" + report.path("cuda_library").asText() + " instead of the CUDA "
                    + "driver: for the emulator, these \"GPU\" numbers measure the CPU");
        }
        out.println("elbo4j:  " + report.path("elbo4j").asText());
        out.println("PyTorch: " + report.path("pytorch").asText("-"));
    }

    static void printCpuTable(JsonNode report, PrintStream out) {
        printHeader(report, out);
        int threads = report.path("threads").asInt();
        TextTable table = new TextTable(2, "model", "batch", "elbo4j steps/s", "PyTorch steps/s",
                "PyTorch 1 thread", "elbo4j/PyTorch", "GEMM floor steps/s", "% of floor", "GEMMs alone ms",
                "GEMMs in step ms", "rest in step ms", "step ms");
        for (JsonNode row : report.path("rows")) {
            double step = millis(row, "step");
            double gemms = millis(row, "gemms");
            double gemmsInStep = row.path("elbo4j").path("split").path("gemm_ms_per_step").asDouble(Double.NaN);
            double restInStep = millis(row, "split") - gemmsInStep;
            double theirs = pytorchStepsPerSecond(row.path("pytorch"), "eager");
            double single = pytorchStepsPerSecond(row.path("pytorch_1_thread"), "eager");
            double best = Double.isNaN(single) ? theirs : Double.isNaN(theirs) ? single : Math.max(theirs, single);
            table.row(row.path("model").asText(), row.path("batch").asText(), fixed(1e3 / step), fixed(theirs),
                    fixed(single), ratio(1e3 / step / best), fixed(1e3 / gemms), percent(gemms / step),
                    fixed(gemms, 3), fixed(gemmsInStep, 3), fixed(restInStep, 3), fixed(step, 3));
        }
        table.print(out);
        out.println("  elbo4j: JMH average of the trainer's step on " + threads + " threads; GEMM floor: the same"
                + " step's sgemm calls alone; % of floor = GEMMs ms / step ms;");
        out.println("  in step: the step replayed with a clock around each sgemm call (JMH's split): its GEMMs, and"
                + " the rest (elbo4j's own loops);");
        out.println("  PyTorch: eager, mean steps/s over the repeats, on " + threads + " threads and on 1;");
        out.println("  elbo4j/PyTorch: against the faster of the two.");
        printAgreement(report, out);
        out.println("Load average before " + report.path("load_before") + ", after " + report.path("load_after"));
    }

    static void printGpuTable(JsonNode report, PrintStream out) {
        printHeader(report, out);
        TextTable table = new TextTable(3, "model", "batch", "GEMMs", "elbo4j graph", "elbo4j direct", "GEMM floor",
                "% of floor", "graph GPU ms", "PyTorch eager", "compile", "reduce-overhead", "graph/best PyTorch");
        for (JsonNode row : report.path("rows")) {
            double graph = millis(row, "graph");
            double gemms = millis(row, "gemms");
            JsonNode peer = row.path("pytorch");
            double eager = pytorchStepsPerSecond(peer, "eager");
            double compiled = pytorchStepsPerSecond(peer, "compile");
            double reduced = pytorchStepsPerSecond(peer, "reduce-overhead");
            double best = Math.max(Double.isNaN(eager) ? 0 : eager,
                    Math.max(Double.isNaN(compiled) ? 0 : compiled, Double.isNaN(reduced) ? 0 : reduced));
            table.row(row.path("model").asText(), row.path("batch").asText(), row.path("precision").asText(),
                    fixed(1e3 / graph), fixed(1e3 / millis(row, "direct")), fixed(1e3 / gemms),
                    percent(gemms / graph), fixed(row.path("elbo4j").path("graph").path("gpu_ms_per_step")
                            .asDouble(Double.NaN), 3), fixed(eager), fixed(compiled), fixed(reduced),
                    best > 0 ? ratio(1e3 / graph / best) : "-");
        }
        table.print(out);
        out.println("  steps/s; elbo4j: JMH, 32 steps per synchronization: graph = the trainer's step replayed as a"
                + " CUDA graph, direct = launched op by op,");
        out.println("  GEMM floor = the step's cuBLAS calls alone as a graph, % of floor = GEMMs ms / graph ms;"
                + " graph GPU ms = CUDA-event time per step.");
        out.println("  PyTorch: mean over the repeats; compile = torch.compile of the forward and loss,"
                + " reduce-overhead = the same with CUDA graphs; '-' = failed (FAILED below) or not run.");
        JsonNode epoch = report.path("epoch");
        if (!epoch.isMissingNode()) {
            out.printf(Locale.ROOT, "One epoch (%s, %d steps, Trainer.train with its progress reads): %.3f s, %s "
                            + "steps/s%n", epoch.path("row").asText(), epoch.path("steps").asInt(),
                    epoch.path("seconds").asDouble(), fixed(epoch.path("steps").asInt()
                            / epoch.path("seconds").asDouble()));
        }
        printAgreement(report, out);
    }

    private static void printAgreement(JsonNode report, PrintStream out) {
        for (JsonNode agreement : report.path("agreement")) {
            if (agreement.has("error")) {
                out.println("Agreement: " + agreement.path("error").asText());
                continue;
            }
            out.printf(Locale.ROOT, "Agreement, %s (%s, batch %d, %d steps from one checkpoint, same batches and "
                            + "noise): loss %.1e, gradients %.1e (relative L2, worst %s), parameters after %.1e: %s%n",
                    agreement.path("precision").asText().toUpperCase(Locale.ROOT), agreement.path("model").asText(),
                    agreement.path("batch").asInt(), agreement.path("steps").size(),
                    agreement.path("max_loss_relative_difference").asDouble(),
                    agreement.path("max_gradient_relative_l2").asDouble(), agreement.path("worst_gradient").asText(),
                    agreement.path("max_final_parameters_relative_l2").asDouble(),
                    agreement.path("agrees").asBoolean() ? "agree" : "DIFFER (tolerance: loss "
                            + agreement.path("loss_tolerance").asDouble() + ", gradients "
                            + agreement.path("gradient_tolerance").asDouble() + ")");
        }
    }

    private static double millis(JsonNode row, String method) {
        return row.path("elbo4j").path(method).path("ms_per_step").asDouble(Double.NaN);
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
}
