package dev.elbo4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import dev.elbo4j.data.Idx;
import dev.elbo4j.data.ImageDataset;
import dev.elbo4j.data.ImageDataset.Split;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/** {@code elbo4j baseline}: the ELBO of {@link MeanIntensityBaseline} on one split of an IDX data set. */
@Command(name = "baseline", mixinStandardHelpOptions = true,
        header = "The ELBO of an independent-pixel model: the baseline every trained VAE must beat.",
        description = {
            "Computes, with the CPU reference, the ELBO (nats per image) of the simplest VAE-shaped model: "
                + "independent Bernoulli pixels whose logits are the log-odds of the training set's mean pixel "
                + "intensity (clamped to [0.5/N, 1 - 0.5/N] for N training images), with an encoder that outputs "
                + "mu = 0, logvar = 0, so KL = 0 and the decoder ignores z.",
            "This is an honest baseline that every trained VAE must beat: a VAE whose test ELBO is not above it "
                + "has learned nothing beyond the average image.",
            "Prints the mean log p(x|z), the KL, the ELBO and bits per dimension; progress goes to stderr."
        })
final class BaselineCommand implements Callable<Integer> {

    @Spec
    private CommandSpec spec;

    @ParentCommand
    private Main parent;

    @Option(names = "--data", required = true, paramLabel = "DIR",
            description = "Directory with train-images-idx3-ubyte[.gz], t10k-images-idx3-ubyte[.gz] and the "
                    + "labels files (e.g. /usr/share/datasets/fashion-mnist).")
    private Path data;

    @Option(names = "--split", defaultValue = "test", paramLabel = "test|train",
            description = "The split to evaluate (default: ${DEFAULT-VALUE}); the model is always fit on train.")
    private Split split;

    @Option(names = "--binarize", paramLabel = "SEED",
            description = "Score dynamically binarized images: pixel x becomes 1 with probability x "
                    + "(Philox stream 1 under this seed, a fresh offset per batch).")
    private Long binarizeSeed;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        err.println("baseline: reading the training images from " + data);
        ImageDataset train = ImageDataset.load(data, Split.TRAIN);
        ImageDataset evaluated = split == Split.TRAIN ? train : ImageDataset.load(data, split);
        Idx.Images images = evaluated.images();
        MeanIntensityBaseline model = MeanIntensityBaseline.fit(train.images());
        // On a terminal the progress line is redrawn in place; in a log file or a pipe each update is its own line.
        boolean redraw = parent.environment().stderrIsTerminal();
        MeanIntensityBaseline.Result result = model.evaluate(images, binarizeSeed, (done, total) -> {
            String line = String.format(Locale.ROOT, "baseline: %d/%d %s images scored", done, total,
                    split.name().toLowerCase(Locale.ROOT));
            if (redraw) {
                err.print("\r" + line);
            } else {
                err.println(line);
            }
            err.flush();
        });
        if (redraw) {
            err.println();
        }

        out.println(String.format(Locale.ROOT, "data       %s, %s split: %d images of %d x %d%s", data,
                split.name().toLowerCase(Locale.ROOT), images.count(), images.rows(), images.columns(),
                binarizeSeed == null ? "" : ", dynamically binarized (seed " + binarizeSeed + ")"));
        out.println(String.format(Locale.ROOT, "model      independent Bernoulli pixels at the mean intensity of "
                + "%d training images; mu = 0, logvar = 0", train.images().count()));
        out.println(String.format(Locale.ROOT, "log p(x|z) %.4f nats/image", result.meanLogLikelihood()));
        out.println(String.format(Locale.ROOT, "KL         %.4f nats/image", result.meanKl()));
        out.println(String.format(Locale.ROOT, "ELBO       %.4f nats/image", result.elbo()));
        out.println(String.format(Locale.ROOT, "bits/dim   %.6f", result.bitsPerDimension()));
        return 0;
    }
}
