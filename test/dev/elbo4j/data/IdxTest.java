package dev.elbo4j.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;

import dev.elbo4j.data.ImageDataset.Split;
import dev.elbo4j.reference.TestRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

@ExtendWith(TestRandom.Extension.class)
class IdxTest {

    @TempDir
    Path directory;

    @Test
    void readsImagesAndLabelsPlainAndCompressed(TestRandom random) throws IOException {
        byte[] pixels = random.pixels(3 * 5 * 7);
        byte[] labels = {9, 0, (byte) 200};
        for (boolean compressed : new boolean[] {false, true}) {
            Path split = Files.createDirectories(directory.resolve("gz-" + compressed));
            IdxFiles.writeSplit(split, "t10k", 5, 7, pixels, labels, compressed);
            ImageDataset dataset = ImageDataset.load(split, Split.TEST);
            Idx.Images images = dataset.images();
            assertEquals(3, images.count());
            assertEquals(5, images.rows());
            assertEquals(7, images.columns());
            assertEquals(35, images.pixelsPerImage());
            assertArrayEquals(pixels, images.pixels());
            assertArrayEquals(labels, dataset.labels());
        }
    }

    @Test
    void recognizesGzipByItsContentNotItsName(TestRandom random) throws IOException {
        byte[] data = random.pixels(4 * 2 * 2);
        Path file = directory.resolve("images-without-suffix");
        Files.write(file, IdxFiles.gzip(IdxFiles.idxBytes(new int[] {4, 2, 2}, data)));
        assertArrayEquals(data, Idx.readImages(file).pixels());
        Path plainNamedGz = directory.resolve("plain.gz");
        Files.write(plainNamedGz, IdxFiles.idxBytes(new int[] {16}, data));
        assertArrayEquals(data, Idx.readLabels(plainNamedGz));
    }

    @Test
    void readsAnyDimensionCountAndEmptyArrays() throws IOException {
        Path file = directory.resolve("four-d");
        Files.write(file, IdxFiles.idxBytes(new int[] {2, 1, 3, 2}, new byte[12]));
        Idx.Array array = Idx.read(file);
        assertArrayEquals(new int[] {2, 1, 3, 2}, array.dimensions());
        assertEquals(12, array.data().length);
        Files.write(file, IdxFiles.idxBytes(new int[] {0, 28, 28}, new byte[0]));
        assertEquals(0, Idx.readImages(file).count());
    }

    @Test
    void rejectsMalformedFilesNamingTheFileAndTheDefect() throws IOException {
        byte[] good = IdxFiles.idxBytes(new int[] {2, 3}, new byte[6]);

        byte[] badMagic = good.clone();
        badMagic[1] = 0x01;
        expectFormatError(badMagic, "not an IDX file", "00 01 08 02");

        byte[] floats = good.clone();
        floats[2] = 0x0D;
        expectFormatError(floats, "0x0d", "float", "only unsigned byte");

        expectFormatError(Arrays.copyOf(good, good.length - 1), "truncated", "declares 6 bytes", "only 5");
        expectFormatError(Arrays.copyOf(good, good.length + 1), "continues past the 6 bytes");
        expectFormatError(new byte[] {0, 0, 8}, "3 bytes are too short");
        expectFormatError(Arrays.copyOf(good, 9), "header ends inside its 2 dimension sizes");
        expectFormatError(IdxFiles.idxBytes(new int[] {2, -3}, new byte[0]), "dimension 1 has negative size -3");
        expectFormatError(IdxFiles.idxBytes(new int[] {65536, 65536}, new byte[0]), "more than");
        expectFormatError(new byte[] {0, 0, 8, 0}, "0 dimensions");

        byte[] compressed = IdxFiles.gzip(good);
        expectFormatError(Arrays.copyOf(compressed, compressed.length - 12), "gzip member 0 at byte 0", "truncated");
        expectFormatError(Arrays.copyOf(compressed, compressed.length - 4), "trailer", "missing");
        byte[] flipped = compressed.clone();
        flipped[compressed.length - 6] ^= 0x40;
        expectFormatError(flipped, "CRC-32 or size does not match");
    }

    /** Count 0 with items too large for an array: pixelsPerImage() overflowed, and the header was accepted. */
    @Test
    void aHeaderOfZeroItemsTooLargeToHoldIsRefused() throws IOException {
        expectFormatError(IdxFiles.idxBytes(new int[] {0, 65536, 65536}, new byte[0]), "items of more than",
                "[0, 65536, 65536]");
        expectFormatError(IdxFiles.idxBytes(new int[] {0, 1, 1, 65536, 65536}, new byte[0]), "items of more than");
        assertThrows(IllegalArgumentException.class, () -> new Idx.Images(0, 65536, 65536, new byte[0]));
    }

    /** Extra bytes after the data are refused alike in a plain and a gzip file (the gzip ones used to be ignored). */
    @Test
    void trailingBytesAfterGzipDataAreRefusedLikeAfterPlainData() throws IOException {
        byte[] good = IdxFiles.idxBytes(new int[] {2, 3}, new byte[6]);
        byte[] compressed = IdxFiles.gzip(good);
        byte[] garbage = Arrays.copyOf(compressed, compressed.length + 5);
        garbage[compressed.length] = 'x';
        expectFormatError(garbage, "5 bytes of trailing data follow the gzip data");
        byte[] zeros = Arrays.copyOf(compressed, compressed.length + 3);
        expectFormatError(zeros, "3 bytes of trailing data");
        // Concatenated gzip members are one stream (gzip writes them so): accepted.
        byte[] first = IdxFiles.gzip(Arrays.copyOf(good, 10));
        byte[] second = IdxFiles.gzip(Arrays.copyOfRange(good, 10, good.length));
        byte[] concatenated = Arrays.copyOf(first, first.length + second.length);
        System.arraycopy(second, 0, concatenated, first.length, second.length);
        Path file = directory.resolve("two-members.gz");
        Files.write(file, concatenated);
        assertArrayEquals(new int[] {2, 3}, Idx.read(file).dimensions());
    }

    @Test
    void aDirectoryOrAnEmptyDataPathIsNamedInTheMessage() throws IOException {
        Path folder = Files.createDirectories(directory.resolve("not-a-file"));
        IOException error = assertThrows(IOException.class, () -> Idx.read(folder));
        assertTrue(error.getMessage().startsWith(folder.toString()) && error.getMessage().contains("is a directory"),
                error.getMessage());
        NoSuchFileException empty = assertThrows(NoSuchFileException.class,
                () -> ImageDataset.load(Path.of(""), Split.TRAIN));
        assertTrue(empty.getMessage().contains("the data directory is empty"), empty.getMessage());
    }

    @Test
    void imagesAndLabelsNeedTheirDimensionCounts() throws IOException {
        Path labels = directory.resolve("labels");
        Files.write(labels, IdxFiles.idxBytes(new int[] {6}, new byte[6]));
        var error = assertThrows(IdxFormatException.class, () -> Idx.readImages(labels));
        assertTrue(error.getMessage().contains("images need 3 dimensions") && error.getMessage().contains("[6]"),
                error.getMessage());
        Path images = directory.resolve("images");
        Files.write(images, IdxFiles.idxBytes(new int[] {1, 2, 3}, new byte[6]));
        error = assertThrows(IdxFormatException.class, () -> Idx.readLabels(images));
        assertTrue(error.getMessage().contains("labels need 1 dimension"), error.getMessage());
    }

    @Test
    void findsTheDottedSpellingAndReportsMissingFiles(TestRandom random) throws IOException {
        byte[] pixels = random.pixels(2 * 4);
        Files.write(directory.resolve("train-images.idx3-ubyte"), IdxFiles.idxBytes(new int[] {2, 2, 2}, pixels));
        Files.write(directory.resolve("train-labels.idx1-ubyte"), IdxFiles.idxBytes(new int[] {2}, new byte[2]));
        assertArrayEquals(pixels, ImageDataset.load(directory, Split.TRAIN).images().pixels());

        var missing = assertThrows(NoSuchFileException.class, () -> ImageDataset.load(directory, Split.TEST));
        assertTrue(missing.getMessage().contains("t10k-images-idx3-ubyte.gz"), missing.getMessage());
        var noDirectory = assertThrows(NoSuchFileException.class,
                () -> ImageDataset.load(directory.resolve("absent"), Split.TRAIN));
        assertTrue(noDirectory.getMessage().contains("no such directory"), noDirectory.getMessage());
    }

    @Test
    void imagesAndLabelsMustAgreeInCount(TestRandom random) throws IOException {
        Files.write(directory.resolve("train-images-idx3-ubyte"),
                IdxFiles.idxBytes(new int[] {3, 2, 2}, random.pixels(12)));
        Files.write(directory.resolve("train-labels-idx1-ubyte"), IdxFiles.idxBytes(new int[] {2}, new byte[2]));
        var error = assertThrows(IdxFormatException.class, () -> ImageDataset.load(directory, Split.TRAIN));
        assertTrue(error.getMessage().contains("3 images but") && error.getMessage().contains("2 labels"),
                error.getMessage());
    }

    private void expectFormatError(byte[] content, String... fragments) throws IOException {
        Path file = Files.createTempFile(directory, "malformed", ".idx");
        Files.write(file, content);
        IdxFormatException error = assertThrows(IdxFormatException.class, () -> Idx.read(file));
        assertTrue(error.getMessage().startsWith(file.toString()), error.getMessage());
        for (String fragment : fragments) {
            assertTrue(error.getMessage().contains(fragment),
                    "message \"" + error.getMessage() + "\" should contain \"" + fragment + "\"");
        }
    }
}
