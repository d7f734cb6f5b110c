package dev.elbo4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import dev.elbo4j.gpu.BackendSelection.Choice;
import dev.elbo4j.gpu.BackendSelection.Selected;
import dev.elbo4j.nn.Vae;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code elbo4j sample CHECKPOINT}: a PNG of decoded prior samples, or of a latent traversal. */
@Command(name = "sample", mixinStandardHelpOptions = true, sortOptions = false,
        header = "Draw samples (or a latent traversal) of a checkpoint's model as a PNG.",
        description = {
            "Decodes N points drawn from the prior N(0, I) and writes them as a grid of grey images (the "
                + "likelihood's mean: the Bernoulli probabilities, or the Gaussian means).",
            "With --traverse DIM it draws " + Pictures.TRAVERSAL_ROWS + " rows instead, each a prior sample with "
                + "latent dimension DIM swept from -3 to 3 in " + Pictures.TRAVERSAL_STEPS + " steps."
        })
final class SampleCommand implements Callable<Integer> {

    @Spec
    private CommandSpec spec;

    @ParentCommand
    private Main main;

    @Parameters(index = "0", paramLabel = "CHECKPOINT", description = "A checkpoint written by 'elbo4j train'.")
    private Path checkpoint;

    @Option(names = "--n", paramLabel = "N", defaultValue = "64",
            description = "Samples to draw (default: ${DEFAULT-VALUE}).")
    private int count;

    @Option(names = "--out", paramLabel = "FILE.png",
            description = "The picture to write (default: samples.png, or traversal-DIM.png with --traverse).")
    private Path out;

    @Option(names = "--traverse", paramLabel = "DIM", description = "Draw a traversal of latent dimension DIM (0-based).")
    private Integer traverse;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
            description = "Seed of the prior samples (default: ${DEFAULT-VALUE}).")
    private long seed;

    @Option(names = "--device", paramLabel = "auto|cuda|cpu", defaultValue = "auto",
            description = "Where to decode: auto (a usable GPU, else the CPU), cuda or cpu, as for 'elbo4j train' "
                    + "(default: ${DEFAULT-VALUE}). A model trained in tf32 or bf16 computes in fp32 on the CPU.")
    private Choice device;

    @Option(names = "--threads", paramLabel = "N", description = "Threads of the CPU backend (default: one per processor).")
    private Integer threads;

    @Override
    public Integer call() throws IOException {
        if (count < 1) {
            throw new ParameterException(spec.commandLine(), "--n must be at least 1 but is " + count);
        }
        if (threads != null && threads < 1) {
            throw new ParameterException(spec.commandLine(), "--threads must be at least 1 but is " + threads);
        }
        if (traverse != null && traverse < 0) {
            throw new ParameterException(spec.commandLine(), "--traverse must be at least 0 but is " + traverse);
        }
        RunCheckpoint saved = RunCheckpoint.read(checkpoint);
        int latent = saved.spec().latent();
        if (traverse != null && traverse >= latent) {
            throw new ParameterException(spec.commandLine(), "--traverse " + traverse + " is not a latent dimension: "
                    + "the model has L = " + latent + " (0 to " + (latent - 1) + ")");
        }
        Path file = out != null ? out : Path.of(traverse == null ? "samples.png" : "traversal-" + traverse + ".png");
        Path folder = file.toAbsolutePath().getParent();
        if (!Files.isDirectory(folder)) {
            throw new CliFailure("cannot write " + file + ": no folder " + folder);
        }
        int[] shape = Pictures.imageShape(saved.spec().inputs());
        String decodedOn;
        try (Selected backend = Devices.open(device, threads, main.environment());
             Vae vae = Vae.withParameters(Devices.computable(saved.spec(), backend), backend.backend(),
                     saved.parameters())) {
            decodedOn = backend.backend().description() + Devices.precisionNote(saved.spec(), vae.spec());
            if (traverse == null) {
                Pictures.samples(vae, count, seed, file, shape[0], shape[1]);
            } else {
                Pictures.traversal(vae, traverse, seed, file, shape[0], shape[1]);
            }
        } catch (java.nio.file.FileSystemException e) {
            throw new CliFailure("cannot write " + file + ": " + RunFolder.reason(e), e);
        }
        spec.commandLine().getOut().println("wrote " + file + " ("
                + (traverse == null ? count + " samples" : "latent dimension " + traverse + " from -3 to 3") + " of "
                + saved.spec().summary() + ", decoded on " + decodedOn + ")");
        return 0;
    }
}
