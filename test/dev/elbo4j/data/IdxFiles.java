package dev.elbo4j.data;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;

/** Writes small IDX files for tests (the format of {@link Idx}), so no test depends on downloaded data. */
public final class IdxFiles {

    private IdxFiles() {
    }

    /** The bytes of an unsigned-byte IDX file: 00 00 08 n, n big-endian sizes, then {@code data}. */
    public static byte[] idxBytes(int[] dimensions, byte[] data) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.write(new byte[] {0, 0, 0x08, (byte) dimensions.length});
            for (int size : dimensions) {
                out.writeInt(size);
            }
            out.write(data);
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new AssertionError("writing to memory cannot fail", e);
        }
    }

    /** {@code content} gzip-compressed. */
    public static byte[] gzip(byte[] content) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (OutputStream out = new GZIPOutputStream(bytes)) {
                out.write(content);
            }
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new AssertionError("writing to memory cannot fail", e);
        }
    }

    /** Writes count x rows x columns images and their labels as {@code PREFIX-images-idx3-ubyte[.gz]} etc. */
    public static void writeSplit(Path directory, String prefix, int rows, int columns, byte[] pixels, byte[] labels,
                                  boolean compressed) throws IOException {
        int count = labels.length;
        byte[] images = idxBytes(new int[] {count, rows, columns}, pixels);
        byte[] labelFile = idxBytes(new int[] {count}, labels);
        String suffix = compressed ? ".gz" : "";
        Files.write(directory.resolve(prefix + "-images-idx3-ubyte" + suffix), compressed ? gzip(images) : images);
        Files.write(directory.resolve(prefix + "-labels-idx1-ubyte" + suffix),
                compressed ? gzip(labelFile) : labelFile);
    }
}
