package dev.elbo4j.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import java.util.function.IntFunction;
import java.util.stream.Collectors;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Reads and writes safetensors files, the format of the {@code safetensors} package (huggingface/safetensors).
 *
 * <h2>The format</h2>
 * An 8-byte little-endian unsigned header length N; N bytes of UTF-8 JSON, an object whose optional key
 * {@code "__metadata__"} maps to an object of strings and whose every other key is a tensor name mapping to
 * {@code {"dtype": "F32", "shape": [400, 784], "data_offsets": [begin, end]}}; then the tensors' raw little-endian,
 * row-major data. Offsets count from the first byte after the header; the tensors cover the data section exactly,
 * with no gap, overlap or trailing byte.
 *
 * <h2>Writing</h2>
 * {@link #write} lays a file out as the reference implementation does, so that it is byte-identical to what
 * {@code safetensors.torch.save_file} writes for the same tensors: tensors in descending {@link DType} order (the
 * reference's, largest elements first), then by name (UTF-8 bytes); the compact JSON with {@code "__metadata__"}
 * first (its keys sorted here; the reference leaves them in hash order) and each entry's keys in the order dtype,
 * shape, data_offsets; the header padded with spaces to a multiple of 8 bytes, so every tensor's data is aligned
 * to its element size. The file appears atomically: it is written to a temporary file beside the target, forced
 * to disk, then renamed over the target, so a crash or an error mid-write leaves the previous file untouched.
 *
 * <h2>Reading</h2>
 * {@link #open} validates the whole header before returning and refuses each defect with a
 * {@link SafeTensorsFormatException} that names the file and the defect. The tensors' data is then read on demand,
 * by name, with the dtype and shape the caller expects checked first:
 * <pre>{@code
 * try (SafeTensors file = SafeTensors.open(path)) {
 *     float[] weight = file.floats("encoder.0.weight", 400, 784);
 *     long step = file.longs("step")[0];   // a 0-d scalar: no dimensions
 *     String spec = file.metadata().get("spec");
 * }
 * }</pre>
 * An open file holds its channel until {@link #close}; concurrent reads of one open file are safe.
 */
public final class SafeTensors implements AutoCloseable {

    /** The largest header accepted, read or written: the reference implementation's limit (100 MB). */
    public static final long MAX_HEADER_BYTES = 100_000_000;

    private static final int LENGTH_BYTES = Long.BYTES;
    /** Data travels between Java memory and the file through a buffer of this size, never a whole-tensor copy. */
    private static final int CHUNK_BYTES = 1 << 20;
    /** The longest Java array the JVM reliably allocates. */
    private static final int MAX_ARRAY_LENGTH = Integer.MAX_VALUE - 8;
    private static final Set<String> ENTRY_KEYS = Set.of("dtype", "shape", "data_offsets");

    /**
     * Strict JSON: duplicate keys and content after the top-level object are errors; long names and strings are
     * allowed up to the header limit (Jackson's default caps are lower). Characters beyond U+FFFF are written as
     * 4-byte UTF-8, as serde_json (the reference) writes them, not as escaped surrogate pairs.
     */
    private static final ObjectMapper JSON = JsonMapper.builder(JsonFactory.builder()
                    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                    .enable(JsonWriteFeature.COMBINE_UNICODE_SURROGATES_IN_UTF8)
                    .streamReadConstraints(StreamReadConstraints.builder()
                            .maxStringLength((int) MAX_HEADER_BYTES)
                            .maxNameLength((int) MAX_HEADER_BYTES)
                            .build())
                    .build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, String> metadata;
    private final Map<String, TensorInfo> tensors;

    private SafeTensors(Path path, FileChannel channel, long dataStart, Map<String, String> metadata,
                        Map<String, TensorInfo> tensors) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.metadata = metadata;
        this.tensors = tensors;
    }

    // ---------------------------------------------------------------------------------------------- writing

    /**
     * Writes {@code tensors} and {@code metadata} to {@code file}, replacing it atomically (see the class comment).
     * The data is streamed through a small buffer; the tensors' segments are not copied whole.
     *
     * @param file     the target; its folder must exist. A temporary {@code .NAME.RANDOM.tmp} appears beside it
     *                 while writing and is removed on failure
     * @param tensors  distinct names; the list order does not matter (the file's is the reference's)
     * @param metadata free-form strings, stored under {@code "__metadata__"} (omitted when empty)
     * @throws IllegalArgumentException when two tensors share a name or the header would exceed
     *                                  {@link #MAX_HEADER_BYTES}
     * @throws IOException              when the file cannot be written; the previous file is then intact
     */
    public static void write(Path file, List<Tensor> tensors, Map<String, String> metadata) throws IOException {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(tensors, "tensors");
        Objects.requireNonNull(metadata, "metadata");
        List<Tensor> ordered = inReferenceOrder(tensors);
        byte[] header = header(ordered, metadata);

        Path target = file.toAbsolutePath();
        Path directory = target.getParent();
        Path temporary = directory.resolve("." + target.getFileName() + "."
                + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
            try (FileChannel out = FileChannel.open(temporary, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE);
                 Arena arena = Arena.ofConfined()) {
                ByteBuffer length = ByteBuffer.allocate(LENGTH_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                writeFully(out, length.putLong(0, header.length));
                writeFully(out, ByteBuffer.wrap(header));
                MemorySegment chunk = arena.allocate(CHUNK_BYTES, Long.BYTES);
                for (Tensor tensor : ordered) {
                    writeData(out, tensor, chunk);
                }
                out.force(true);
            }
            // rename(2) on POSIX: the target is replaced in one step, never seen half-written.
            Files.move(temporary, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (Throwable failure) {
            try {
                Files.deleteIfExists(temporary);
            } catch (IOException cleanup) {
                failure.addSuppressed(cleanup);
            }
            throw failure;
        }
        syncDirectory(directory);
    }

    /** Descending dtype, then name by UTF-8 bytes: the reference's order (Rust's str ordering is bytewise). */
    private static List<Tensor> inReferenceOrder(List<Tensor> tensors) {
        Set<String> names = new HashSet<>();
        for (Tensor tensor : tensors) {
            Objects.requireNonNull(tensor, "tensor");
            if (!names.add(tensor.name())) {
                throw new IllegalArgumentException("two tensors are named '" + tensor.name() + "'");
            }
        }
        List<Tensor> ordered = new ArrayList<>(tensors);
        ordered.sort(Comparator.comparing(Tensor::dtype, Comparator.reverseOrder())
                .thenComparing(tensor -> tensor.name().getBytes(StandardCharsets.UTF_8), Arrays::compareUnsigned));
        return ordered;
    }

    private static byte[] header(List<Tensor> ordered, Map<String, String> metadata) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode strings = root.putObject(Tensor.METADATA_KEY);
            metadata.forEach((key, value) -> {
                Objects.requireNonNull(key, "metadata key");
                Objects.requireNonNull(value, () -> "metadata value of '" + key + "'");
            });
            new TreeMap<>(metadata).forEach(strings::put);
        }
        long offset = 0;
        for (Tensor tensor : ordered) {
            ObjectNode entry = root.putObject(tensor.name());
            entry.put("dtype", tensor.dtype().name());
            ArrayNode shape = entry.putArray("shape");
            for (long dimension : tensor.shape()) {
                shape.add(dimension);
            }
            long end = Math.addExact(offset, tensor.data().byteSize());
            entry.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json = JSON.writeValueAsBytes(root);
        long padded = (json.length + 7L) & ~7L;
        if (padded > MAX_HEADER_BYTES) {
            throw new IllegalArgumentException("the header would be " + padded + " bytes, over the "
                    + MAX_HEADER_BYTES + "-byte limit readers accept");
        }
        byte[] header = Arrays.copyOf(json, (int) padded);
        Arrays.fill(header, json.length, header.length, (byte) ' ');
        return header;
    }

    /** Copies the tensor's native-order elements into {@code chunk} in little-endian order, a chunk at a time. */
    private static void writeData(FileChannel out, Tensor tensor, MemorySegment chunk) throws IOException {
        MemorySegment data = tensor.data();
        ValueLayout nativeOrder = scalarLayout(tensor.dtype());
        ValueLayout littleEndian = nativeOrder.withOrder(ByteOrder.LITTLE_ENDIAN);
        long size = data.byteSize();
        for (long done = 0; done < size; ) {
            long bytes = Math.min(chunk.byteSize(), size - done);
            MemorySegment.copy(data, nativeOrder, done, chunk, littleEndian, 0, bytes / nativeOrder.byteSize());
            writeFully(out, chunk.asSlice(0, bytes).asByteBuffer());
            done += bytes;
        }
    }

    /** Makes the rename durable (POSIX); a platform that cannot open a folder as a file (Windows) skips it. */
    private static void syncDirectory(Path directory) throws IOException {
        FileChannel folder;
        try {
            folder = FileChannel.open(directory, StandardOpenOption.READ);
        } catch (IOException | UnsupportedOperationException notOpenable) {
            return;
        }
        try (folder) {
            folder.force(true);
        }
    }

    private static void writeFully(FileChannel out, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            out.write(buffer);
        }
    }

    // ---------------------------------------------------------------------------------------------- reading

    /**
     * Opens {@code file} and validates its header: the length (at least 8 bytes in the file, the header within
     * the file and {@link #MAX_HEADER_BYTES}), UTF-8 JSON holding one object, {@code __metadata__} an object of
     * strings, each tensor entry with exactly a known dtype, a shape of non-negative integers whose byte count fits
     * 64 bits, and data_offsets {@code [begin, end]} spanning exactly that many bytes; together the tensors cover
     * the data section from 0 to the end of the file with no gap, overlap or trailing byte. Duplicate keys are
     * refused.
     *
     * @throws SafeTensorsFormatException naming the file and the first defect found
     * @throws IOException                when the file cannot be read
     */
    public static SafeTensors open(Path file) throws IOException {
        if (Files.isDirectory(file)) {
            throw new SafeTensorsFormatException(file, "a directory, not a safetensors file");
        }
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return parse(file, channel);
        } catch (Throwable failure) {
            try {
                channel.close();
            } catch (IOException closing) {
                failure.addSuppressed(closing);
            }
            throw failure;
        }
    }

    private static SafeTensors parse(Path file, FileChannel channel) throws IOException {
        long fileSize = channel.size();
        if (fileSize < LENGTH_BYTES) {
            throw new SafeTensorsFormatException(file, "the file is " + fileSize
                    + " bytes, shorter than the 8-byte header length a safetensors file starts with");
        }
        ByteBuffer lengthBytes = ByteBuffer.allocate(LENGTH_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        readHeaderBytes(file, channel, lengthBytes, 0);
        long headerLength = lengthBytes.getLong(0);
        if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
            throw new SafeTensorsFormatException(file, "header length " + Long.toUnsignedString(headerLength)
                    + " is over the " + MAX_HEADER_BYTES + "-byte limit");
        }
        if (headerLength > fileSize - LENGTH_BYTES) {
            throw new SafeTensorsFormatException(file, "header length " + headerLength
                    + " runs past the end of the " + fileSize + "-byte file");
        }
        ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
        readHeaderBytes(file, channel, headerBytes, LENGTH_BYTES);
        JsonNode root = parseJson(file, headerBytes.flip());

        Map<String, String> metadata = Map.of();
        List<TensorInfo> entries = new ArrayList<>();
        for (Map.Entry<String, JsonNode> property : root.properties()) {
            if (property.getKey().equals(Tensor.METADATA_KEY)) {
                metadata = metadata(file, property.getValue());
            } else {
                entries.add(entry(file, property.getKey(), property.getValue()));
            }
        }
        long dataStart = LENGTH_BYTES + headerLength;
        Map<String, TensorInfo> tensors = checkCoverage(file, entries, fileSize - dataStart);
        return new SafeTensors(file, channel, dataStart, metadata, tensors);
    }

    private static void readHeaderBytes(Path file, FileChannel channel, ByteBuffer buffer, long position)
            throws IOException {
        if (!readFully(channel, buffer, position)) {
            throw new SafeTensorsFormatException(file, "the file ended at byte " + (position + buffer.position())
                    + " while its header was read (it shrank while being opened)");
        }
    }

    private static JsonNode parseJson(Path file, ByteBuffer headerBytes) throws SafeTensorsFormatException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(headerBytes)
                    .toString();
        } catch (CharacterCodingException malformed) {
            throw new SafeTensorsFormatException(file, "the header is not valid UTF-8", malformed);
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException invalid) {
            throw new SafeTensorsFormatException(file, "the header is not valid JSON: "
                    + invalid.getOriginalMessage(), invalid);
        }
        if (root.isMissingNode()) {
            throw new SafeTensorsFormatException(file, "the header is empty (it must be a JSON object)");
        }
        if (!root.isObject()) {
            throw new SafeTensorsFormatException(file, "the header is a JSON " + kind(root) + ", not an object");
        }
        return root;
    }

    private static Map<String, String> metadata(Path file, JsonNode node) throws SafeTensorsFormatException {
        if (!node.isObject()) {
            throw new SafeTensorsFormatException(file, Tensor.METADATA_KEY + " is a JSON " + kind(node)
                    + ", not an object of strings");
        }
        Map<String, String> strings = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> property : node.properties()) {
            if (!property.getValue().isTextual()) {
                throw new SafeTensorsFormatException(file, Tensor.METADATA_KEY + " value of '" + property.getKey()
                        + "' is a JSON " + kind(property.getValue()) + ", not a string");
            }
            strings.put(property.getKey(), property.getValue().textValue());
        }
        return Collections.unmodifiableMap(strings);
    }

    private static TensorInfo entry(Path file, String name, JsonNode node) throws SafeTensorsFormatException {
        String tensor = "tensor '" + name + "': ";
        if (!node.isObject()) {
            throw new SafeTensorsFormatException(file, tensor + "its entry is a JSON " + kind(node)
                    + ", not an object of dtype, shape and data_offsets");
        }
        for (Map.Entry<String, JsonNode> property : node.properties()) {
            if (!ENTRY_KEYS.contains(property.getKey())) {
                throw new SafeTensorsFormatException(file, tensor + "unknown key '" + property.getKey()
                        + "' (an entry has dtype, shape and data_offsets)");
            }
        }
        for (String key : List.of("dtype", "shape", "data_offsets")) {
            if (!node.has(key)) {
                throw new SafeTensorsFormatException(file, tensor + "no " + key);
            }
        }

        JsonNode dtypeNode = node.get("dtype");
        DType dtype = dtypeNode.isTextual() ? DType.byHeaderName(dtypeNode.textValue()).orElse(null) : null;
        if (dtype == null) {
            throw new SafeTensorsFormatException(file, tensor + "unknown dtype " + dtypeNode + " (known: "
                    + Arrays.stream(DType.values()).map(DType::name).collect(Collectors.joining(", ")) + ")");
        }

        JsonNode shapeNode = node.get("shape");
        if (!shapeNode.isArray()) {
            throw new SafeTensorsFormatException(file, tensor + "shape " + shapeNode + " is not an array");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegativeLong(shapeNode.get(i));
            if (shape[i] < 0) {
                throw new SafeTensorsFormatException(file, tensor + "shape " + shapeNode
                        + " has a dimension that is not a non-negative 64-bit integer: " + shapeNode.get(i));
            }
        }
        long byteSize;
        try {
            byteSize = Math.multiplyExact(Tensor.elementCount(shape), dtype.byteSize());
        } catch (ArithmeticException overflow) {
            throw new SafeTensorsFormatException(file, tensor + dtype + " " + shapeNode
                    + " has more bytes than 64 bits count");
        }

        JsonNode offsets = node.get("data_offsets");
        long begin = offsets.isArray() && offsets.size() == 2 ? nonNegativeLong(offsets.get(0)) : -1;
        long end = offsets.isArray() && offsets.size() == 2 ? nonNegativeLong(offsets.get(1)) : -1;
        if (begin < 0 || end < 0) {
            throw new SafeTensorsFormatException(file, tensor + "data_offsets " + offsets
                    + " are not [begin, end], two non-negative 64-bit integers");
        }
        if (end < begin) {
            throw new SafeTensorsFormatException(file, tensor + "data_offsets " + offsets + " end before they begin");
        }
        if (end - begin != byteSize) {
            throw new SafeTensorsFormatException(file, tensor + dtype + " " + shapeNode + " is " + byteSize
                    + " bytes, but data_offsets " + offsets + " span " + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    /** The value of a JSON integer in 0..Long.MAX_VALUE; -1 for anything else (fractions, strings, too big). */
    private static long nonNegativeLong(JsonNode node) {
        if (!node.isIntegralNumber() || !node.canConvertToLong()) {
            return -1;
        }
        long value = node.longValue();
        return value >= 0 ? value : -1;
    }

    /** The tensors in data order, checked to cover {@code dataBytes} exactly: from 0, no gap, no overlap. */
    private static Map<String, TensorInfo> checkCoverage(Path file, List<TensorInfo> entries, long dataBytes)
            throws SafeTensorsFormatException {
        // Key order in the header is free (older writers sorted by name); the data order is what must be exact.
        entries.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        Map<String, TensorInfo> byName = new LinkedHashMap<>();
        long covered = 0;
        TensorInfo previous = null;
        for (TensorInfo info : entries) {
            if (info.begin() > covered) {
                throw new SafeTensorsFormatException(file, "bytes " + covered + " to " + info.begin()
                        + " of the data belong to no tensor (a gap before '" + info.name() + "')");
            }
            if (info.begin() < covered) {
                throw new SafeTensorsFormatException(file, "tensor '" + info.name() + "': data_offsets ["
                        + info.begin() + ", " + info.end() + "] overlap tensor '" + previous.name()
                        + "', which ends at " + covered);
            }
            covered = info.end();
            previous = info;
            byName.put(info.name(), info);
        }
        if (covered > dataBytes) {
            throw new SafeTensorsFormatException(file, "tensor '" + previous.name() + "': data_offsets ["
                    + previous.begin() + ", " + previous.end() + "] run past the end of the data (" + dataBytes
                    + " bytes after the header; the file is truncated)");
        }
        if (covered < dataBytes) {
            throw new SafeTensorsFormatException(file, (dataBytes - covered)
                    + " trailing bytes after the last tensor's data (the tensors cover " + covered + " of "
                    + dataBytes + " data bytes)");
        }
        return Collections.unmodifiableMap(byName);
    }

    private static String kind(JsonNode node) {
        return node.getNodeType().name().toLowerCase(Locale.ROOT);
    }

    /** The file this was opened from. */
    public Path path() {
        return path;
    }

    /** The {@code __metadata__} strings, in header order; empty when the file has none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Every tensor's header entry, in the order of their data. */
    public List<TensorInfo> tensors() {
        return List.copyOf(tensors.values());
    }

    /** True when the file has a tensor named {@code name}. */
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /**
     * The entry of tensor {@code name}.
     *
     * @throws SafeTensorsFormatException when the file has no such tensor
     */
    public TensorInfo info(String name) throws SafeTensorsFormatException {
        TensorInfo info = tensors.get(name);
        if (info == null) {
            throw new SafeTensorsFormatException(path, "no tensor named '" + name + "' (the file has "
                    + tensors.size() + ": " + abbreviatedNames() + ")");
        }
        return info;
    }

    /**
     * The entry of tensor {@code name}, checked to have this dtype and shape.
     *
     * @throws SafeTensorsFormatException when the file has no such tensor, or it has another dtype or shape
     */
    public TensorInfo info(String name, DType dtype, long... shape) throws SafeTensorsFormatException {
        TensorInfo info = info(name);
        if (!info.matches(dtype, shape)) {
            throw new SafeTensorsFormatException(path, "tensor '" + name + "' is " + info.describe()
                    + ", expected " + dtype + " " + Arrays.toString(shape));
        }
        return info;
    }

    /** The F32 tensor {@code name} of this shape (no dimensions for a scalar), as a new array. */
    public float[] floats(String name, long... shape) throws IOException {
        return array(name, DType.F32, shape, float[]::new, MemorySegment::ofArray);
    }

    /** The I32 tensor {@code name} of this shape, as a new array. */
    public int[] ints(String name, long... shape) throws IOException {
        return array(name, DType.I32, shape, int[]::new, MemorySegment::ofArray);
    }

    /** The I64 tensor {@code name} of this shape, as a new array. */
    public long[] longs(String name, long... shape) throws IOException {
        return array(name, DType.I64, shape, long[]::new, MemorySegment::ofArray);
    }

    /** The U8 tensor {@code name} of this shape, as a new array (Java bytes are signed: mask with 0xff). */
    public byte[] bytes(String name, long... shape) throws IOException {
        return array(name, DType.U8, shape, byte[]::new, MemorySegment::ofArray);
    }

    /** Tensor {@code name}, checked to have this dtype and shape, copied into a new array of its elements. */
    private <A> A array(String name, DType dtype, long[] shape, IntFunction<A> newArray,
                        Function<A, MemorySegment> segment) throws IOException {
        TensorInfo info = info(name, dtype, shape);
        A values = newArray.apply(arrayLength(info));
        copy(info, segment.apply(values));
        return values;
    }

    /**
     * Reads tensor {@code name}, of any dtype, into {@code destination} in native byte order, e.g. into a slice of
     * an off-heap parameter buffer, without an intermediate array.
     *
     * @throws SafeTensorsFormatException when the tensor is missing or has another dtype or shape
     * @throws IllegalArgumentException   when {@code destination} is not exactly the tensor's size
     */
    public void readInto(String name, DType dtype, long[] shape, MemorySegment destination) throws IOException {
        TensorInfo info = info(name, dtype, shape);
        if (destination.byteSize() != info.byteSize()) {
            throw new IllegalArgumentException("tensor '" + name + "' (" + info.describe() + ") is "
                    + info.byteSize() + " bytes, but the destination is " + destination.byteSize());
        }
        copy(info, destination);
    }

    /** Closes the file; reading afterwards is an IllegalStateException. */
    @Override
    public void close() throws IOException {
        channel.close();
    }

    @Override
    public String toString() {
        return "SafeTensors[" + path + ", " + tensors.size() + " tensors]";
    }

    private int arrayLength(TensorInfo info) {
        long count = info.elementCount();
        if (count > MAX_ARRAY_LENGTH) {
            throw new IllegalArgumentException(path + ": tensor '" + info.name() + "' (" + info.describe()
                    + ") has " + count + " elements, more than a Java array holds; read it with readInto");
        }
        return (int) count;
    }

    private String abbreviatedNames() {
        int shown = 8;
        String names = tensors.keySet().stream().limit(shown).map(name -> "'" + name + "'")
                .collect(Collectors.joining(", "));
        return tensors.size() > shown ? names + ", ..." : names;
    }

    /** Reads the tensor's little-endian data a chunk at a time into {@code destination} in native order. */
    private void copy(TensorInfo info, MemorySegment destination) throws IOException {
        if (!channel.isOpen()) {
            throw new IllegalStateException(path + " is closed");
        }
        long size = info.byteSize();
        if (size == 0) {
            return;
        }
        ValueLayout nativeOrder = scalarLayout(info.dtype());
        ValueLayout littleEndian = nativeOrder.withOrder(ByteOrder.LITTLE_ENDIAN);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment chunk = arena.allocate(Math.min(CHUNK_BYTES, size), Long.BYTES);
            ByteBuffer buffer = chunk.asByteBuffer();
            long start = dataStart + info.begin();
            for (long done = 0; done < size; ) {
                int bytes = (int) Math.min(chunk.byteSize(), size - done);
                buffer.clear().limit(bytes);
                if (!readFully(channel, buffer, start + done)) {
                    throw new SafeTensorsFormatException(path, "the file ended at byte " + (start + done
                            + buffer.position()) + ", inside tensor '" + info.name() + "' (it was truncated after"
                            + " it was opened)");
                }
                MemorySegment.copy(chunk, littleEndian, 0, destination, nativeOrder, done,
                        bytes / nativeOrder.byteSize());
                done += bytes;
            }
        }
    }

    /** Fills {@code buffer} from {@code position}; false when the file ends first. */
    private static boolean readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long next = position;
        while (buffer.hasRemaining()) {
            int read = channel.read(buffer, next);
            if (read < 0) {
                return false;
            }
            next += read;
        }
        return true;
    }

    /** The unit whose bytes are reordered between native and little-endian order, in native order. */
    private static ValueLayout scalarLayout(DType dtype) {
        return switch (dtype.scalarBytes()) {
            case 1 -> ValueLayout.JAVA_BYTE;
            case 2 -> ValueLayout.JAVA_SHORT_UNALIGNED;
            case 4 -> ValueLayout.JAVA_INT_UNALIGNED;
            case 8 -> ValueLayout.JAVA_LONG_UNALIGNED;
            default -> throw new AssertionError("no layout for " + dtype);
        };
    }
}
