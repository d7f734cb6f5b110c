package dev.elbo4j.cli;

import java.nio.file.Path;

import dev.elbo4j.gpu.BackendSelection.Choice;
import dev.elbo4j.io.Checkpoint;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * What the commands that compute with a saved model take (eval, sample): the checkpoint, {@code --device} and
 * {@code --threads}, as a picocli mixin.
 */
final class CheckpointOptions {

    @Spec(Spec.Target.MIXEE)
    private CommandSpec command;

    @Parameters(index = "0", paramLabel = "CHECKPOINT", description = "A checkpoint written by 'elbo4j train'.")
    private Path checkpoint;

    @Option(names = "--device", paramLabel = "auto|cuda|cpu", defaultValue = "auto",
            description = "Where to compute: auto (a usable GPU, else the CPU), cuda or cpu, as for 'elbo4j train' "
                    + "(default: ${DEFAULT-VALUE}). A model trained in tf32 or bf16 computes in fp32 on the CPU.")
    private Choice device;

    @Option(names = "--threads", paramLabel = "N",
            description = "Threads of the CPU backend, 1 to 256 (default: one per processor, at most 256).")
    private Integer threads;

    Path checkpoint() {
        return checkpoint;
    }

    /** Refuses a thread count below 1 (a usage error). */
    void check() {
        Usage.threads(command, threads);
    }

    /** The checkpoint, read and validated ({@link RunCheckpoint#read}). */
    Checkpoint.Contents read() {
        return RunCheckpoint.read(checkpoint);
    }

    /** {@code saved}'s model on the backend {@code --device} and {@code --threads} ask for. */
    Devices.OpenModel open(Checkpoint.Contents saved, CliEnvironment environment) {
        return Devices.open(saved, device, threads, environment);
    }
}
