package dev.elbo4j.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads IDX files (the MNIST / Fashion-MNIST container) of unsigned bytes, plain or gzip-compressed.
 *
 * <p>Format (big-endian): two zero bytes, an element-type byte (0x08 = unsigned byte, the only type read here),
 * a dimension count n, n dimension sizes as 32-bit integers, then the elements in row-major order. Images are
 * {@code idx3} (count x rows x columns), labels {@code idx1} (count). Gzip is recognized by its magic bytes, not by
 * the file name. Every defect (wrong magic, other element type, negative size, missing or extra data) is an
 * {@link IdxFormatException} that names the file.
 */
public final class Idx {

    private static final int UNSIGNED_BYTE = 0x08;
    private static final int GZIP_MAGIC_0 = 0x1f;
    private static final int GZIP_MAGIC_1 = 0x8b;

    private Idx() {
    }

    /** An IDX array of unsigned bytes: its dimension sizes and its elements, row-major. */
    public record Array(int[] dimensions, byte[] data) {
        /** Keeps a copy of {@code dimensions}; {@code data} is kept as given. */
        public Array {
            Objects.requireNonNull(dimensions, "dimensions");
            Objects.requireNonNull(data, "data");
            dimensions = dimensions.clone();
        }

        /** A copy of the dimension sizes, outermost first. */
        @Override
        public int[] dimensions() {
            return dimensions.clone();
        }

        @Override
        public String toString() {
            return "Idx.Array" + Arrays.toString(dimensions);
        }
    }

    /** Images, count x rows x columns unsigned pixels (0 = background), row-major. */
    public record Images(int count, int rows, int columns, byte[] pixels) {
        /**
         * Checks the pixel count; {@code pixels} is kept as given.
         *
         * @throws IllegalArgumentException when {@code pixels} does not hold count x rows x columns bytes
         */
        public Images {
            Objects.requireNonNull(pixels, "pixels");
            if ((long) count * rows * columns != pixels.length) {
                throw new IllegalArgumentException(count + " x " + rows + " x " + columns + " images need "
                        + (long) count * rows * columns + " pixels, not " + pixels.length);
            }
        }

        /** Pixels per image, D = rows * columns. */
        public int pixelsPerImage() {
            return rows * columns;
        }
    }

    /**
     * Reads any unsigned-byte IDX file, gzip-compressed or not.
     *
     * @throws IdxFormatException when the file is not a well-formed unsigned-byte IDX file
     * @throws IOException        when it cannot be read
     */
    public static Array read(Path file) throws IOException {
        Objects.requireNonNull(file, "file");
        try (InputStream in = Files.newInputStream(file)) {
            return read(in, file.toString());
        }
    }

    /**
     * Reads an unsigned-byte IDX array from a stream, gzip-compressed or not, to its end.
     *
     * @param source the name to put in error messages (a file name)
     * @throws IdxFormatException when the content is not a well-formed unsigned-byte IDX array
     * @throws IOException        when the stream cannot be read
     */
    public static Array read(InputStream stream, String source) throws IOException {
        Objects.requireNonNull(stream, "stream");
        BufferedInputStream buffered = new BufferedInputStream(stream);
        buffered.mark(2);
        boolean gzip = buffered.read() == GZIP_MAGIC_0 && buffered.read() == GZIP_MAGIC_1;
        buffered.reset();
        if (!gzip) {
            return readContent(new DataInputStream(buffered), source);
        }
        try {
            return readContent(new DataInputStream(new GZIPInputStream(buffered, 1 << 16)), source);
        } catch (ZipException | EOFException e) {
            throw new IdxFormatException(source + ": corrupt or truncated gzip data (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Reads an {@code idx3} file of images (count x rows x columns).
     *
     * @throws IdxFormatException when the file is malformed or does not have 3 dimensions
     * @throws IOException        when it cannot be read
     */
    public static Images readImages(Path file) throws IOException {
        Array array = read(file);
        int[] dims = array.dimensions();
        if (dims.length != 3) {
            throw new IdxFormatException(file + ": images need 3 dimensions (count x rows x columns), but the file"
                    + " has " + dims.length + " " + Arrays.toString(dims));
        }
        return new Images(dims[0], dims[1], dims[2], array.data());
    }

    /**
     * Reads an {@code idx1} file of labels (count).
     *
     * @throws IdxFormatException when the file is malformed or does not have 1 dimension
     * @throws IOException        when it cannot be read
     */
    public static byte[] readLabels(Path file) throws IOException {
        Array array = read(file);
        int[] dims = array.dimensions();
        if (dims.length != 1) {
            throw new IdxFormatException(file + ": labels need 1 dimension (count), but the file has "
                    + dims.length + " " + Arrays.toString(dims));
        }
        return array.data();
    }

    private static Array readContent(DataInputStream in, String source) throws IOException {
        byte[] magic = in.readNBytes(4);
        if (magic.length < 4) {
            throw new IdxFormatException(source + ": " + magic.length + " bytes are too short for an IDX header");
        }
        if (magic[0] != 0 || magic[1] != 0) {
            throw new IdxFormatException(source + ": not an IDX file: it starts with " + describeMagic(magic)
                    + ", not 00 00");
        }
        int type = magic[2] & 0xFF;
        if (type != UNSIGNED_BYTE) {
            throw new IdxFormatException(source + ": element type 0x" + String.format("%02x", type) + " ("
                    + typeName(type) + "); only unsigned byte (0x08) is supported");
        }
        int dimensionCount = magic[3] & 0xFF;
        if (dimensionCount == 0) {
            throw new IdxFormatException(source + ": the header declares 0 dimensions");
        }
        int[] dims = new int[dimensionCount];
        long elements = 1;
        for (int i = 0; i < dimensionCount; i++) {
            try {
                dims[i] = in.readInt();
            } catch (EOFException e) {
                throw new IdxFormatException(source + ": the header ends inside its " + dimensionCount
                        + " dimension sizes", e);
            }
            if (dims[i] < 0) {
                throw new IdxFormatException(source + ": dimension " + i + " has negative size " + dims[i]);
            }
            elements *= dims[i];
            if (elements > Integer.MAX_VALUE - 8) {
                throw new IdxFormatException(source + ": the header declares more than " + (Integer.MAX_VALUE - 8)
                        + " elements, more than this reader holds in one array");
            }
        }
        byte[] data = in.readNBytes((int) elements);
        if (data.length < elements) {
            throw new IdxFormatException(source + ": truncated: the header " + Arrays.toString(dims) + " declares "
                    + elements + " bytes of data, but only " + data.length + " follow");
        }
        if (in.read() != -1) {
            throw new IdxFormatException(source + ": data continues past the " + elements + " bytes the header "
                    + Arrays.toString(dims) + " declares");
        }
        return new Array(dims, data);
    }

    private static String describeMagic(byte[] magic) {
        StringBuilder text = new StringBuilder();
        for (byte b : magic) {
            text.append(text.isEmpty() ? "" : " ").append(String.format("%02x", b & 0xFF));
        }
        return text.toString();
    }

    private static String typeName(int type) {
        return switch (type) {
            case 0x09 -> "signed byte";
            case 0x0B -> "short";
            case 0x0C -> "int";
            case 0x0D -> "float";
            case 0x0E -> "double";
            default -> "not an IDX type";
        };
    }
}
