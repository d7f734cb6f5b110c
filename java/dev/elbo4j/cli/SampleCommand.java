package dev.elbo4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import dev.elbo4j.io.Checkpoint;

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

    @Mixin
    private CheckpointOptions checkpoint;

    @Override
    public Integer call() throws IOException {
        Usage.atLeast(spec, count, 1, "--n");
        checkpoint.check();
        Usage.atLeast(spec, traverse, 0, "--traverse");
        Checkpoint.Contents saved = checkpoint.read();
        int latent = saved.spec().latent();
        Usage.latentDimension(spec, traverse, latent);
        Path file = out != null ? out : Path.of(traverse == null ? "samples.png" : "traversal-" + traverse + ".png");
        Path folder = file.toAbsolutePath().getParent();
        if (!Files.isDirectory(folder)) {
            throw new CliFailure("cannot write " + file + ": no folder " + folder);
        }
        int[] shape = Pictures.imageShape(saved.spec().inputs());
        String decodedOn;
        try (Devices.OpenModel model = checkpoint.open(saved, main.environment())) {
            decodedOn = model.backend().backend().description() + model.precisionNote();
            if (traverse == null) {
                Pictures.samples(model.vae(), count, seed, file, shape[0], shape[1]);
            } else {
                Pictures.traversal(model.vae(), traverse, seed, file, shape[0], shape[1]);
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
