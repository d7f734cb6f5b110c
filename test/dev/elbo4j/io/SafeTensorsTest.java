package dev.elbo4j.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import dev.elbo4j.reference.TestRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Writing and reading back: every dtype, odd shapes, the accessors' checks, and the atomic replacement. */
@ExtendWith(TestRandom.Extension.class)
class SafeTensorsTest {

    @TempDir
    Path directory;

    @Test
    void roundTripsEveryDtypeWithScalarsAndEmptyTensors(TestRandom random) throws IOException {
        long[][] shapes = {{3, 5}, {}, {0}, {2, 0, 3}, {7}};
        List<Tensor> tensors = new ArrayList<>();
        Map<String, byte[]> written = new LinkedHashMap<>();
        for (DType dtype : DType.values()) {
            for (int s = 0; s < shapes.length; s++) {
                String name = dtype.name().toLowerCase() + ".shape" + s;
                byte[] data = randomBytes(random, Math.toIntExact(Tensor.elementCount(shapes[s]) * dtype.byteSize()));
                tensors.add(new Tensor(name, dtype, shapes[s], MemorySegment.ofArray(data)));
                written.put(name, data);
            }
        }
        Map<String, String> metadata = Map.of("format", "pt", "spec", "{\"latent\": 20}\n", "π", "✓ 𝔼");
        Path file = directory.resolve("all.safetensors");
        SafeTensors.write(file, tensors, metadata);

        try (SafeTensors read = SafeTensors.open(file)) {
            assertEquals(metadata, read.metadata());
            assertEquals(tensors.size(), read.tensors().size());
            for (Tensor tensor : tensors) {
                TensorInfo info = read.info(tensor.name());
                assertEquals(tensor.dtype(), info.dtype());
                assertArrayEquals(tensor.shape(), info.shape());
                assertEquals(tensor.data().byteSize(), info.byteSize());
                byte[] back = new byte[(int) info.byteSize()];
                read.readInto(tensor.name(), tensor.dtype(), tensor.shape(), MemorySegment.ofArray(back));
                assertArrayEquals(written.get(tensor.name()), back, tensor.name());
            }
        }
    }

    /** A folder is named as such, with its path (the file system's bare "Is a directory" names neither). */
    @Test
    void aDirectoryIsRefusedNamingIt() throws IOException {
        Path folder = Files.createDirectories(directory.resolve("model.safetensors"));
        SafeTensorsFormatException read = assertThrows(SafeTensorsFormatException.class,
                () -> SafeTensors.open(folder));
        assertEquals(folder + ": a directory, not a safetensors file", read.getMessage());
        IOException write = assertThrows(IOException.class, () -> SafeTensors.write(folder, List.of(), Map.of()));
        assertTrue(write.getMessage().contains(folder.toString()), write.getMessage());
    }

    @Test
    void typedArraysRoundTripBitForBitIncludingSpecialFloats(TestRandom random) throws IOException {
        float[] weights = random.normals(12, 1.0);
        weights[0] = -0.0f;
        weights[1] = Float.intBitsToFloat(0x7fc0_1234); // a NaN with a payload
        weights[2] = Float.NEGATIVE_INFINITY;
        weights[3] = Float.MIN_VALUE;
        int[] indices = {Integer.MIN_VALUE, -1, 0, 1, Integer.MAX_VALUE, random.nextInt(1000)};
        long[] step = {Long.MIN_VALUE + random.nextInt(1000)};
        byte[] pixels = random.pixels(6);
        Path file = directory.resolve("typed.safetensors");
        SafeTensors.write(file, List.of(Tensor.of("w", weights, 3, 4), Tensor.of("i", indices, 6),
                Tensor.of("step", step), Tensor.of("x", pixels, 2, 3)), Map.of());

        try (SafeTensors read = SafeTensors.open(file)) {
            float[] w = read.floats("w", 3, 4);
            for (int i = 0; i < weights.length; i++) {
                assertEquals(Float.floatToRawIntBits(weights[i]), Float.floatToRawIntBits(w[i]), "w[" + i + "]");
            }
            assertArrayEquals(indices, read.ints("i", 6));
            assertArrayEquals(step, read.longs("step"));
            assertArrayEquals(pixels, read.bytes("x", 2, 3));
            assertEquals(Map.of(), read.metadata());
        }
    }

    @Test
    void streamsTensorsLargerThanItsBufferFromOffHeapMemory(TestRandom random) throws IOException {
        // 4 MB + 12 bytes: several 1 MiB chunks and a partial one, from and back into native memory.
        int count = 1_000_003;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment source = arena.allocate(ValueLayout.JAVA_FLOAT, count);
            for (int i = 0; i < count; i++) {
                source.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) random.gaussian());
            }
            Path file = directory.resolve("large.safetensors");
            SafeTensors.write(file, List.of(new Tensor("big", DType.F32, new long[] {count}, source),
                    Tensor.of("tail", new byte[] {1, 2, 3}, 3)), Map.of());
            MemorySegment back = arena.allocate(ValueLayout.JAVA_FLOAT, count);
            try (SafeTensors read = SafeTensors.open(file)) {
                read.readInto("big", DType.F32, new long[] {count}, back);
                assertEquals(-1, source.mismatch(back));
                float[] asArray = read.floats("big", count);
                assertEquals(-1, MemorySegment.ofArray(asArray).mismatch(source));
                assertArrayEquals(new byte[] {1, 2, 3}, read.bytes("tail", 3));
            }
        }
    }

    @Test
    void theFileIsLittleEndianAndEachTensorAlignedToItsElementSize() throws IOException {
        Path file = directory.resolve("layout.safetensors");
        SafeTensors.write(file, List.of(Tensor.of("a", new byte[] {9}, 1), Tensor.of("b", new long[] {0x0102030405060708L}),
                Tensor.of("c", new int[] {0x0a0b0c0d}, 1), Tensor.of("d", new float[] {1.0f}, 1)), Map.of());
        byte[] bytes = Files.readAllBytes(file);
        long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, headerLength % 8, "header padded to 8 bytes");
        int data = 8 + (int) headerLength;
        try (SafeTensors read = SafeTensors.open(file)) {
            for (TensorInfo info : read.tensors()) {
                assertEquals(0, (data + info.begin()) % info.dtype().byteSize(), info.name() + " aligned");
            }
            assertEquals(List.of("b", "d", "c", "a"), read.tensors().stream().map(TensorInfo::name).toList(),
                    "descending in the reference's dtype order: I64, F32, I32, U8");
        }
        byte[] expectedData = RawFiles.hex("08 07 06 05 04 03 02 01  00 00 80 3f  0d 0c 0b 0a  09");
        assertArrayEquals(expectedData, Arrays.copyOfRange(bytes, data, bytes.length));
    }

    @Test
    void accessorsCheckNameDtypeAndShape() throws IOException {
        Path file = directory.resolve("checked.safetensors");
        SafeTensors.write(file, List.of(Tensor.of("encoder.0.weight", new float[6], 2, 3),
                Tensor.of("step", new long[] {4})), Map.of());
        try (SafeTensors read = SafeTensors.open(file)) {
            assertMessage(file + ": tensor 'encoder.0.weight' is F32 [2, 3], expected F32 [3, 2]",
                    assertThrows(SafeTensorsFormatException.class, () -> read.floats("encoder.0.weight", 3, 2)));
            assertMessage(file + ": tensor 'encoder.0.weight' is F32 [2, 3], expected F32 [6]",
                    assertThrows(SafeTensorsFormatException.class, () -> read.floats("encoder.0.weight", 6)));
            assertMessage(file + ": tensor 'encoder.0.weight' is F32 [2, 3], expected I32 [2, 3]",
                    assertThrows(SafeTensorsFormatException.class, () -> read.ints("encoder.0.weight", 2, 3)));
            assertMessage(file + ": tensor 'step' is I64 [], expected I64 [1]",
                    assertThrows(SafeTensorsFormatException.class, () -> read.longs("step", 1)));
            assertMessage(file + ": no tensor named 'decoder.0.weight' (the file has 2: 'step', 'encoder.0.weight')",
                    assertThrows(SafeTensorsFormatException.class, () -> read.floats("decoder.0.weight", 2, 3)));
            assertMessage("tensor 'step' (I64 []) is 8 bytes, but the destination is 16",
                    assertThrows(IllegalArgumentException.class,
                            () -> read.readInto("step", DType.I64, new long[0], MemorySegment.ofArray(new long[2]))));
            assertTrue(read.contains("step"));
            assertFalse(read.contains("Step"));
        }
    }

    @Test
    void readingAClosedFileIsRefused() throws IOException {
        Path file = directory.resolve("closed.safetensors");
        SafeTensors.write(file, List.of(Tensor.of("x", new float[2], 2)), Map.of());
        SafeTensors read = SafeTensors.open(file);
        read.close();
        assertMessage(file + " is closed", assertThrows(IllegalStateException.class, () -> read.floats("x", 2)));
    }

    @Test
    void aFileTruncatedAfterOpeningIsAClearErrorNotGarbage() throws IOException {
        Path file = directory.resolve("shrinking.safetensors");
        SafeTensors.write(file, List.of(Tensor.of("x", new float[1000], 1000)), Map.of());
        try (SafeTensors read = SafeTensors.open(file)) {
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
                channel.truncate(channel.size() - 10);
            }
            SafeTensorsFormatException refused =
                    assertThrows(SafeTensorsFormatException.class, () -> read.floats("x", 1000));
            assertTrue(refused.getMessage().contains("inside tensor 'x' (it was truncated after it was opened)"),
                    refused.getMessage());
        }
    }

    @Test
    void aTensorTooLargeForAnArrayPointsToReadInto() throws IOException {
        // A sparse file: 2^31 bytes of declared U8 data that take no disk space.
        long count = 1L << 31;
        String header = "{\"big\":{\"dtype\":\"U8\",\"shape\":[" + count + "],\"data_offsets\":[0," + count + "]}}";
        Path file = directory.resolve("sparse.safetensors");
        Files.write(file, RawFiles.file(header, new byte[0]));
        try (RandomAccessFile sparse = new RandomAccessFile(file.toFile(), "rw")) {
            sparse.setLength(sparse.length() + count);
        }
        try (SafeTensors read = SafeTensors.open(file)) {
            assertMessage(file + ": tensor 'big' (U8 [2147483648]) has 2147483648 elements, more than a Java array"
                            + " holds; read it with readInto",
                    assertThrows(IllegalArgumentException.class, () -> read.bytes("big", count)));
        }
    }

    @Test
    void tensorsAreCheckedWhenMade() {
        assertMessage("tensor 'w': F32 [2, 3] is 24 bytes, but its data is 20 bytes",
                assertThrows(IllegalArgumentException.class, () -> Tensor.of("w", new float[5], 2, 3)));
        assertMessage("tensor 'w': negative dimension in shape [-1]",
                assertThrows(IllegalArgumentException.class, () -> Tensor.of("w", new float[0], -1)));
        assertMessage("tensor 'w': shape [4294967296, 4294967296] has more bytes than a long counts",
                assertThrows(IllegalArgumentException.class,
                        () -> Tensor.of("w", new byte[0], 1L << 32, 1L << 32)));
        assertMessage("__metadata__ is reserved for the metadata, not a tensor name",
                assertThrows(IllegalArgumentException.class, () -> Tensor.of("__metadata__", new int[1], 1)));
        long[] shape = {2};
        Tensor tensor = Tensor.of("v", new int[2], shape);
        shape[0] = 5;
        assertArrayEquals(new long[] {2}, tensor.shape(), "the shape is copied");
    }

    @Test
    void duplicateNamesAreRefusedBeforeAnythingIsWritten() {
        Path file = directory.resolve("duplicate.safetensors");
        assertMessage("two tensors are named 'w'", assertThrows(IllegalArgumentException.class,
                () -> SafeTensors.write(file, List.of(Tensor.of("w", new float[1], 1), Tensor.of("w", new int[1], 1)),
                        Map.of())));
        assertEquals(List.of(), list(directory));
    }

    @Test
    void aWriteThatFailsMidwayLeavesThePreviousFileByteIdenticalAndNoTemporary(TestRandom random)
            throws IOException {
        Path file = directory.resolve("model.safetensors");
        SafeTensors.write(file, List.of(Tensor.of("w", random.normals(1000, 1.0), 1000)), Map.of("step", "1"));
        byte[] previous = Files.readAllBytes(file);

        // The U8 tensor is written last (after every F32); its memory is already freed, so the write fails after
        // the header and 4 MB of 'big' went to the temporary file.
        MemorySegment freed;
        try (Arena arena = Arena.ofConfined()) {
            freed = arena.allocate(16);
        }
        List<Tensor> next = List.of(new Tensor("z", DType.U8, new long[] {16}, freed),
                Tensor.of("big", random.normals(1_000_000, 1.0), 1_000_000));
        assertThrows(IllegalStateException.class, () -> SafeTensors.write(file, next, Map.of("step", "2")));

        assertArrayEquals(previous, Files.readAllBytes(file));
        assertEquals(List.of(file), list(directory));
    }

    @Test
    void aSuccessfulWriteReplacesTheFileAndLeavesNoTemporary() throws IOException {
        Path file = directory.resolve("model.safetensors");
        SafeTensors.write(file, List.of(Tensor.of("w", new float[] {1, 2}, 2)), Map.of("step", "1"));
        SafeTensors.write(file, List.of(Tensor.of("w", new float[] {3, 4, 5}, 3)), Map.of("step", "2"));
        assertEquals(List.of(file), list(directory));
        try (SafeTensors read = SafeTensors.open(file)) {
            assertArrayEquals(new float[] {3, 4, 5}, read.floats("w", 3));
            assertEquals("2", read.metadata().get("step"));
        }
    }

    @Test
    void writingIntoAMissingFolderOrOverAFolderFailsCleanly() throws IOException {
        Path inMissing = directory.resolve("no-such-folder").resolve("model.safetensors");
        assertThrows(NoSuchFileException.class,
                () -> SafeTensors.write(inMissing, List.of(Tensor.of("w", new float[1], 1)), Map.of()));
        Path folder = Files.createDirectory(directory.resolve("taken.safetensors"));
        Files.writeString(folder.resolve("inside"), "x");
        assertThrows(IOException.class,
                () -> SafeTensors.write(folder, List.of(Tensor.of("w", new float[1], 1)), Map.of()));
        assertEquals(List.of(folder), list(directory));
        assertEquals("x", Files.readString(folder.resolve("inside")));
    }

    private static byte[] randomBytes(TestRandom random, int n) {
        byte[] bytes = new byte[n];
        for (int i = 0; i < n; i++) {
            bytes[i] = (byte) random.nextInt(256);
        }
        return bytes;
    }

    private static List<Path> list(Path folder) {
        try (Stream<Path> entries = Files.list(folder)) {
            return entries.sorted().toList();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static void assertMessage(String expected, Throwable thrown) {
        assertEquals(expected, thrown.getMessage());
    }
}
