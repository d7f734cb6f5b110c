package dev.elbo4j.data;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * Reads IDX files (the MNIST / Fashion-MNIST container) of unsigned bytes, plain or gzip-compressed.
 *
 * <p>Format (big-endian): two zero bytes, an element-type byte (0x08 = unsigned byte, the only type read here),
 * a dimension count n, n dimension sizes as 32-bit integers, then the elements in row-major order. Images are
 * {@code idx3} (count x rows x columns), labels {@code idx1} (count). Gzip is recognized by its magic bytes, not by
 * the file name; one gzip member or several concatenated ones (as gzip writes them), and nothing after them. Every
 * defect (wrong magic, other element type, negative size, sizes whose product does not fit one array even when a
 * count is 0, missing or extra data, compressed or not) is an {@link IdxFormatException} that names the file.
 */
public final class Idx {

    private static final int UNSIGNED_BYTE = 0x08;
    private static final int GZIP_MAGIC_0 = 0x1f;
    private static final int GZIP_MAGIC_1 = 0x8b;
    /** The most elements one Java array holds, and so one IDX array here. */
    private static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

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
            if (count < 0 || rows < 0 || columns < 0 || (long) rows * columns > MAX_ELEMENTS) {
                throw new IllegalArgumentException(count + " x " + rows + " x " + columns + " is not a shape of images:"
                        + " sizes must not be negative and an image must fit one array");
            }
            if ((long) count * rows * columns != pixels.length) {
                throw new IllegalArgumentException(count + " x " + rows + " x " + columns + " images need "
                        + (long) count * rows * columns + " pixels, not " + pixels.length);
            }
        }

        /** Pixels per image, D = rows * columns (fits an int: the constructor checks it). */
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
        if (Files.isDirectory(file)) {
            throw new IOException(file + ": is a directory, not an IDX file");
        }
        try (InputStream in = Files.newInputStream(file)) {
            return read(in, file.toString());
        } catch (IdxFormatException | NoSuchFileException e) {
            throw e;
        } catch (IOException e) {
            // The JDK's messages ("Permission denied") do not always name the file.
            throw new IOException(file + ": " + e.getMessage(), e);
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
        byte[] content = gunzip(buffered.readAllBytes(), source);
        return readContent(new DataInputStream(new ByteArrayInputStream(content)), source);
    }

    /**
     * The content of gzip data (RFC 1952): one member or several concatenated, and nothing after the last one.
     * {@link java.util.zip.GZIPInputStream} skips trailing bytes that do not start another member, where a plain
     * file's extra bytes are refused: here both are refused alike.
     */
    private static byte[] gunzip(byte[] compressed, String source) throws IdxFormatException {
        ByteArrayOutputStream content = new ByteArrayOutputStream(Math.max(32, compressed.length * 2));
        int position = 0;
        int member = 0;
        do {
            position = inflateMember(compressed, position, member++, content, source);
        } while (position < compressed.length && (compressed[position] & 0xFF) == GZIP_MAGIC_0);
        if (position < compressed.length) {
            throw new IdxFormatException(source + ": " + (compressed.length - position) + " bytes of trailing data"
                    + " follow the gzip data at byte " + position);
        }
        return content.toByteArray();
    }

    /** Inflates the gzip member at {@code start} into {@code content}; returns the position after its trailer. */
    private static int inflateMember(byte[] data, int start, int member, ByteArrayOutputStream content, String source)
            throws IdxFormatException {
        String where = source + ": gzip member " + member + " at byte " + start;
        int position = start;
        if (data.length - position < 10 || (data[position] & 0xFF) != GZIP_MAGIC_0
                || (data[position + 1] & 0xFF) != GZIP_MAGIC_1) {
            throw new IdxFormatException(where + ": not a gzip header");
        }
        if (data[position + 2] != 8) {
            throw new IdxFormatException(where + ": compression method " + data[position + 2] + ", not deflate (8)");
        }
        int flags = data[position + 3] & 0xFF;
        position += 10;
        if ((flags & 0x04) != 0) {  // FEXTRA: a little-endian length, then that many bytes
            position = skip(data, position, 2, where);
            position = skip(data, position, (data[position - 2] & 0xFF) | (data[position - 1] & 0xFF) << 8, where);
        }
        for (int zeroTerminated : new int[] {0x08, 0x10}) {  // FNAME, FCOMMENT
            if ((flags & zeroTerminated) != 0) {
                while (position < data.length && data[position] != 0) {
                    position++;
                }
                position = skip(data, position, 1, where);
            }
        }
        if ((flags & 0x02) != 0) {  // FHCRC
            position = skip(data, position, 2, where);
        }
        Inflater inflater = new Inflater(true);
        CRC32 crc = new CRC32();
        long size = 0;
        try {
            inflater.setInput(data, position, data.length - position);
            byte[] chunk = new byte[1 << 16];
            while (!inflater.finished()) {
                int inflated = inflater.inflate(chunk);
                if (inflated == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    throw new IdxFormatException(where + ": truncated: the compressed data ends before its end marker");
                }
                crc.update(chunk, 0, inflated);
                content.write(chunk, 0, inflated);
                size += inflated;
                if (content.size() > MAX_ELEMENTS) {
                    throw new IdxFormatException(where + ": inflates to more than " + MAX_ELEMENTS
                            + " bytes, more than this reader holds in one array");
                }
            }
            position = data.length - inflater.getRemaining();
        } catch (DataFormatException e) {
            throw new IdxFormatException(where + ": corrupt compressed data"
                    + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")"), e);
        } finally {
            inflater.end();
        }
        if (data.length - position < 8) {
            throw new IdxFormatException(where + ": truncated: the 8-byte trailer (CRC-32 and size) is missing");
        }
        long storedCrc = littleEndianInt(data, position);
        long storedSize = littleEndianInt(data, position + 4);
        if (storedCrc != crc.getValue() || storedSize != (size & 0xFFFFFFFFL)) {
            throw new IdxFormatException(where + ": corrupt: the trailer's CRC-32 or size does not match the data");
        }
        return position + 8;
    }

    private static int skip(byte[] data, int position, int bytes, String where) throws IdxFormatException {
        if (data.length - position < bytes) {
            throw new IdxFormatException(where + ": truncated inside the gzip header");
        }
        return position + bytes;
    }

    private static long littleEndianInt(byte[] data, int position) {
        return (data[position] & 0xFFL) | (data[position + 1] & 0xFFL) << 8 | (data[position + 2] & 0xFFL) << 16
                | (data[position + 3] & 0xFFL) << 24;
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
        }
        // Each item (the sizes after the count) must fit one array even when the count is 0: a header of 0 images
        // of 65536 x 65536 pixels is as malformed as one of 1 image.
        long item = 1;
        for (int i = 1; i < dimensionCount; i++) {
            item *= dims[i];
            if (item > MAX_ELEMENTS) {
                throw new IdxFormatException(source + ": the header " + Arrays.toString(dims) + " declares items of"
                        + " more than " + MAX_ELEMENTS + " elements, more than this reader holds in one array");
            }
        }
        long elements = item * dims[0];
        if (elements > MAX_ELEMENTS) {
            throw new IdxFormatException(source + ": the header " + Arrays.toString(dims) + " declares more than "
                    + MAX_ELEMENTS + " elements, more than this reader holds in one array");
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
