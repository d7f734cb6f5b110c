package dev.elbo4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import dev.elbo4j.data.Idx;
import dev.elbo4j.data.ImageDataset;
import dev.elbo4j.data.ImageDataset.Split;

/** Reads the IDX images of a data folder for the commands, with the messages a user needs when it is not there. */
final class DataFolder {
    /** Where Debian's {@code dataset-fashion-mnist} installs Fashion-MNIST: the default {@code --data}. */
    static final String DEFAULT = "/usr/share/datasets/fashion-mnist";
    /** How to get it. */
    static final String INSTALL_HINT = "install Fashion-MNIST with 'sudo apt-get install dataset-fashion-mnist' "
            + "(into " + DEFAULT + "), or pass --data DIR";

    private DataFolder() {
    }

    /**
     * The images of one split, the first {@code limit} of them when {@code limit} is not null.
     *
     * @throws CliFailure when the folder is missing (saying how to install Fashion-MNIST)
     * @throws IOException when a file is missing, not IDX or truncated (the message names the file)
     */
    static Idx.Images images(Path folder, Split split, Integer limit) throws IOException {
        if (!Files.exists(folder)) {
            throw new CliFailure("no data folder " + folder + ": " + INSTALL_HINT);
        }
        if (!Files.isDirectory(folder)) {
            throw new CliFailure("the data folder " + folder + " is a file, not a folder of IDX files");
        }
        Idx.Images images = ImageDataset.load(folder, split).images();
        if (images.count() == 0) {
            throw new CliFailure("the " + split.prefix() + " images in " + folder + " are empty");
        }
        return limit == null ? images : first(images, limit);
    }

    /** The first {@code count} of {@code images} (all of them when there are no more). */
    static Idx.Images first(Idx.Images images, int count) {
        if (count >= images.count()) {
            return images;
        }
        return new Idx.Images(count, images.rows(), images.columns(),
                Arrays.copyOf(images.pixels(), Math.multiplyExact(count, images.pixelsPerImage())));
    }

    /** "60000 images of 28 x 28". */
    static String describe(Idx.Images images) {
        return images.count() + " images of " + images.rows() + " x " + images.columns();
    }

    /**
     * Checks that {@code images} have the model's {@code inputs} pixels.
     *
     * @throws CliFailure naming both sizes
     */
    static void checkSize(Idx.Images images, String what, int inputs, String model) {
        if (images.pixelsPerImage() != inputs) {
            throw new CliFailure("the " + what + " are " + images.rows() + " x " + images.columns() + " = "
                    + images.pixelsPerImage() + " pixels but " + model + " takes D = " + inputs);
        }
    }
}
