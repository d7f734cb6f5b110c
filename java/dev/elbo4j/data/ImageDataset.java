package dev.elbo4j.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One split of an MNIST-layout data set in a directory: {@code train-images-idx3-ubyte} with
 * {@code train-labels-idx1-ubyte}, or the {@code t10k-} pair for the test split. Each file may be gzip-compressed
 * ({@code .gz}) and may use the dotted spelling {@code train-images.idx3-ubyte}; Debian's
 * {@code dataset-fashion-mnist} installs the {@code .gz} files in {@code /usr/share/datasets/fashion-mnist}.
 *
 * @param images the images, count x rows x columns
 * @param labels one class label per image
 */
public record ImageDataset(Idx.Images images, byte[] labels) {

    /** The two splits and their file-name prefixes. */
    public enum Split {
        /** The training split, files {@code train-*}. */
        TRAIN("train"),
        /** The test split, files {@code t10k-*}. */
        TEST("t10k");

        private final String prefix;

        Split(String prefix) {
            this.prefix = prefix;
        }

        /** The file-name prefix: "train" or "t10k". */
        public String prefix() {
            return prefix;
        }
    }

    /**
     * Checks that there is one label per image.
     *
     * @throws IllegalArgumentException when the label count is not the image count
     */
    public ImageDataset {
        Objects.requireNonNull(images, "images");
        Objects.requireNonNull(labels, "labels");
        if (labels.length != images.count()) {
            throw new IllegalArgumentException(images.count() + " images but " + labels.length + " labels");
        }
    }

    /**
     * Loads a split from {@code directory}, checking that the images and labels belong together.
     *
     * @throws NoSuchFileException  when the directory or a file is missing (the message lists the names tried)
     * @throws IdxFormatException   when a file is malformed or the counts disagree
     */
    public static ImageDataset load(Path directory, Split split) throws IOException {
        Objects.requireNonNull(split, "split");
        Path imagesFile = find(directory, split, "images", "idx3");
        Path labelsFile = find(directory, split, "labels", "idx1");
        Idx.Images images = Idx.readImages(imagesFile);
        byte[] labels = Idx.readLabels(labelsFile);
        if (labels.length != images.count()) {
            throw new IdxFormatException(imagesFile + " holds " + images.count() + " images but " + labelsFile
                    + " holds " + labels.length + " labels");
        }
        return new ImageDataset(images, labels);
    }

    /** The first existing file among the spellings of one split's images or labels. */
    private static Path find(Path directory, Split split, String kind, String idxKind) throws IOException {
        Objects.requireNonNull(directory, "directory");
        if (directory.toString().isBlank()) {
            // Path.of("") is the working directory: an empty --data is a mistake, not a request for ".".
            throw new NoSuchFileException("\"\"", null, "the data directory is empty; name the directory that holds"
                    + " the " + split.prefix() + "-" + kind + "-" + idxKind + "-ubyte[.gz] file");
        }
        if (!Files.isDirectory(directory)) {
            throw new NoSuchFileException(directory.toString(), null,
                    Files.exists(directory) ? "not a directory" : "no such directory");
        }
        List<String> tried = new ArrayList<>();
        for (String separator : new String[] {"-", "."}) {
            for (String suffix : new String[] {".gz", ""}) {
                String name = split.prefix() + "-" + kind + separator + idxKind + "-ubyte" + suffix;
                tried.add(name);
                Path candidate = directory.resolve(name);
                if (Files.isRegularFile(candidate)) {
                    return candidate;
                }
            }
        }
        throw new NoSuchFileException(directory.toString(), null,
                "no " + split.prefix() + " " + kind + " file; looked for " + String.join(", ", tried));
    }
}
