package dev.elbo4j.cli;

import dev.elbo4j.cpu.CpuBackend;
import dev.elbo4j.cuda.CudaException;
import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.gpu.BackendSelection;
import dev.elbo4j.gpu.BackendSelection.Choice;
import dev.elbo4j.gpu.BackendSelection.Selected;
import dev.elbo4j.io.Checkpoint;
import dev.elbo4j.nn.Vae;
import dev.elbo4j.nn.VaeSpec;

/**
 * The backend a command runs on ({@code --device auto|cuda|cpu}, {@code --threads}). {@link BackendSelection}
 * chooses and says why; here its failures become one-line errors, and a GEMM precision the chosen backend does not
 * compute is refused (training) or evaluated in FP32 (eval, sample).
 */
final class Devices {

    private Devices() {
    }

    /**
     * Opens the backend {@code choice} asks for, finding the GPU through the environment's probe.
     *
     * @param threads the CPU backend's threads (null: {@link CpuBackend#defaultThreads()})
     * @throws CliFailure for {@code cuda} without a usable GPU, saying why
     */
    static Selected open(Choice choice, Integer threads, CliEnvironment environment) {
        int cpuThreads = threads != null ? threads : CpuBackend.defaultThreads();
        try {
            return BackendSelection.open(choice, cpuThreads, environment.gpuProbe());
        } catch (CudaException | IllegalStateException e) {
            if (choice != Choice.CUDA) {
                throw e;
            }
            throw new CliFailure("--device cuda: no usable GPU: " + Main.oneLine(e.getMessage())
                    + " ('elbo4j info' tells more; --device cpu runs on the CPU)", e);
        }
    }

    /**
     * Refuses to train at a GEMM precision that {@code selected} does not compute (TF32 and BF16 need the CUDA
     * backend), saying which backend was chosen and why.
     */
    static void checkTrainingPrecision(Selected selected, GemmPrecision precision) {
        if (!selected.backend().supports(precision)) {
            throw new CliFailure("--precision " + new Choices.Precisions().wordOf(precision) + " needs the CUDA "
                    + "backend (the CPU backend computes in fp32 only), but this run would train on the CPU: "
                    + selected.reason());
        }
    }

    /**
     * A checkpoint's model on the backend a command chose; closing it closes the model, then the backend.
     *
     * @param precisionNote "" when the backend computes the precision the model was trained at, else
     *                      "; trained in tf32, computed in fp32 here"
     */
    record OpenModel(Selected backend, Vae vae, String precisionNote) implements AutoCloseable {
        @Override
        public void close() {
            try (backend) {
                vae.close();
            }
        }
    }

    /**
     * Opens the backend {@code choice} asks for ({@link #open(Choice, Integer, CliEnvironment)}) and {@code saved}'s
     * model on it: unchanged, or in FP32 where the backend does not compute the precision it was trained at (its
     * parameters are float32 either way, and FP32 is the more precise).
     */
    static OpenModel open(Checkpoint.Contents saved, Choice choice, Integer threads, CliEnvironment environment) {
        Selected selected = open(choice, threads, environment);
        try {
            VaeSpec spec = saved.spec();
            VaeSpec computed = selected.backend().supports(spec.precision()) ? spec
                    : spec.toBuilder().precision(GemmPrecision.FP32).build();
            Choices.Precisions words = new Choices.Precisions();
            String note = spec.precision() == computed.precision() ? "" : "; trained in "
                    + words.wordOf(spec.precision()) + ", computed in " + words.wordOf(computed.precision()) + " here";
            return new OpenModel(selected, Vae.withParameters(computed, selected.backend(), saved.parameters()), note);
        } catch (RuntimeException e) {
            selected.close();
            throw e;
        }
    }
}
