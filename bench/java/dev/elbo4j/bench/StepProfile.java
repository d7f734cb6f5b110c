package dev.elbo4j.bench;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.cuda.GemmPrecision;

/**
 * Where a CPU training step's time goes: one step of the trainer is recorded ({@link RecordingBackend}) and replayed
 * whole, with the wall clock around each of its operations ({@link TrainingProblem#stepTimingEach}); prints the mean
 * milliseconds of each operation per step, in the step's order, beside the whole replayed step. The operations run
 * as in the step (same buffers, caches and thread hand-offs), so the parts add up to the step but for the clock
 * reads. A first half of the steps warms the JIT up and is not counted.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp "target/test-classes:target/classes:$(cat cp.txt)" \
 *     dev.elbo4j.bench.StepProfile [--model 784-400-20] [--batch 128] [--threads 2] [--steps 2000] [--data DIR]
 * </pre>
 */
public final class StepProfile {

    private StepProfile() {
    }

    public static void main(String[] args) throws Exception {
        String model = "784-400-20";
        int batch = 128;
        int threads = Runtime.getRuntime().availableProcessors();
        int steps = 2000;
        Path data = TrainingProblem.dataDirectory();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> model = args[++i];
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--data" -> data = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]
                        + " (--model D-H...-L --batch B --threads T --steps N --data DIR)");
            }
        }
        try (CpuBackend backend = CpuBackend.create(threads);
             TrainingProblem problem = TrainingProblem.forSteps(backend, model, batch, GemmPrecision.FP32,
                     TrainingProblem.epochImages(data))) {
            List<RecordingBackend.Operation> operations = problem.operations();
            long[] warmUp = new long[operations.size()];
            for (int s = 0; s < steps / 2; s++) {
                problem.stepTimingEach(warmUp);
            }
            long[] nanos = new long[operations.size()];
            long start = System.nanoTime();
            for (int s = 0; s < steps; s++) {
                problem.stepTimingEach(nanos);
            }
            double stepMs = (System.nanoTime() - start) / 1e6 / steps;
            System.out.printf(Locale.ROOT, "%s, batch %d, %s: %d steps replayed, %.3f ms a step%n", model, batch,
                    backend.description(), steps, stepMs);
            double gemmMs = 0;
            for (int i = 0; i < operations.size(); i++) {
                RecordingBackend.Operation operation = operations.get(i);
                double ms = nanos[i] / 1e6 / steps;
                gemmMs += operation.isGemm() ? ms : 0;
                System.out.printf(Locale.ROOT, "  %2d  %-20s %8.4f ms%s%n", i, operation.name(), ms,
                        operation.isGemm() ? String.format(Locale.ROOT, "  (%.1f GFLOP/s)",
                                operation.flops() / (ms * 1e6)) : "");
            }
            System.out.printf(Locale.ROOT, "GEMMs %.3f ms, the rest %.3f ms%n", gemmMs, stepMs - gemmMs);
        }
    }
}
