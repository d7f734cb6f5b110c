package dev.elbo4j.io;

import static dev.elbo4j.io.RawFiles.concat;
import static dev.elbo4j.io.RawFiles.hex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.elbo4j.reference.TestRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compatibility with the format as the reference implementation (huggingface/safetensors, whose Python package's
 * {@code save_file} serializes through it) writes and reads it: a file built by hand byte for byte to the
 * reference's rules, and an independent reader in Python's standard library.
 */
@ExtendWith(TestRandom.Extension.class)
class SafeTensorsCompatibilityTest {

    @TempDir
    Path directory;

    /**
     * What {@code save_file({"weight": f32[2], "mask": u8[3], "bias": f32[1], "counts": i64 scalar},
     * metadata={"format": "pt"})} writes: tensors in descending dtype order (I64, F32, U8), equal dtypes by name;
     * compact JSON with __metadata__ first and entry keys dtype, shape, data_offsets; 263 bytes of JSON padded
     * with one space to 264 = 0x108.
     */
    private static final String REFERENCE_HEADER = "{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"counts\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
            + "\"bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
            + "\"weight\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]},"
            + "\"mask\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[20,23]}} ";

    private static final byte[] REFERENCE_FILE = concat(
            hex("08 01 00 00 00 00 00 00"),
            REFERENCE_HEADER.getBytes(StandardCharsets.UTF_8),
            hex("07 00 00 00 00 00 00 00"),   // counts = 7
            hex("00 00 00 3f"),               // bias = 0.5f
            hex("00 00 80 3f  00 00 00 c0"),  // weight = 1.0f, -2.0f
            hex("01 00 ff"));                 // mask = 1, 0, 255

    @Test
    void theHandWrittenReferenceFileIsConsistent() {
        assertEquals(264, REFERENCE_HEADER.length());
        assertEquals(8 + 264 + 23, REFERENCE_FILE.length);
    }

    @Test
    void writesByteForByteWhatTheReferenceWrites() throws IOException {
        Path file = directory.resolve("ours.safetensors");
        SafeTensors.write(file, List.of(
                Tensor.of("weight", new float[] {1.0f, -2.0f}, 2),
                Tensor.of("mask", new byte[] {1, 0, (byte) 255}, 3),
                Tensor.of("bias", new float[] {0.5f}, 1),
                Tensor.of("counts", new long[] {7})), Map.of("format", "pt"));
        assertArrayEquals(REFERENCE_FILE, Files.readAllBytes(file));
    }

    @Test
    void readsTheReferenceFile() throws IOException {
        Path file = directory.resolve("reference.safetensors");
        Files.write(file, REFERENCE_FILE);
        try (SafeTensors read = SafeTensors.open(file)) {
            assertEquals(Map.of("format", "pt"), read.metadata());
            assertArrayEquals(new long[] {7}, read.longs("counts"));
            assertArrayEquals(new float[] {0.5f}, read.floats("bias", 1));
            assertArrayEquals(new float[] {1.0f, -2.0f}, read.floats("weight", 2));
            assertArrayEquals(new byte[] {1, 0, (byte) 255}, read.bytes("mask", 3));
        }
    }

    @Test
    void readsLayoutsOtherWritersProduce() throws IOException {
        // Keys in name order rather than data order, __metadata__ last, no padding (the reference reader accepts
        // all three), and a header with nothing but metadata.
        String header = "{\"a\":{\"shape\":[1],\"dtype\":\"U8\",\"data_offsets\":[4,5]},"
                + "\"b\":{\"data_offsets\":[0,4],\"dtype\":\"F32\",\"shape\":[]},\"__metadata__\":{}}";
        Path file = directory.resolve("other.safetensors");
        Files.write(file, RawFiles.file(header, concat(hex("00 00 c0 3f"), hex("2a"))));
        try (SafeTensors read = SafeTensors.open(file)) {
            assertEquals(List.of("b", "a"), read.tensors().stream().map(TensorInfo::name).toList());
            assertArrayEquals(new float[] {1.5f}, read.floats("b"));
            assertArrayEquals(new byte[] {42}, read.bytes("a", 1));
        }
        Files.write(file, RawFiles.file("{\"__metadata__\":{\"k\":\"v\"}}", new byte[0]));
        try (SafeTensors read = SafeTensors.open(file)) {
            assertEquals(List.of(), read.tensors());
            assertEquals(Map.of("k", "v"), read.metadata());
        }
    }

    @Test
    void anIndependentPythonReaderAgreesWithTheWriter(TestRandom random) throws Exception {
        Optional<Path> python = python();
        if (python.isEmpty()) {
            String reason = "no python3 at /usr/bin/python3 or on the PATH: the independent reader was not run";
            System.out.println("SafeTensorsCompatibilityTest: skipped, " + reason);
            assumeTrue(false, reason);
        }
        Map<String, List<String>> expected = new LinkedHashMap<>();
        List<Tensor> tensors = new ArrayList<>();

        float[] weights = random.normals(6, 1.0);
        weights[0] = -0.0f;
        weights[1] = Float.MIN_VALUE;
        weights[2] = Float.MAX_VALUE;
        tensors.add(Tensor.of("encoder.0.weight", weights, 2, 3));
        expected.put("encoder.0.weight", floatValues(weights));

        double[] doubles = {Math.PI, -1e300, Double.MIN_VALUE, random.gaussian()};
        tensors.add(new Tensor("f64", DType.F64, new long[] {4}, MemorySegment.ofArray(doubles)));
        expected.put("f64", doubleValues(doubles));

        short[] half = new short[5];
        short[] bfloat = new short[3];
        List<String> halfValues = new ArrayList<>();
        List<String> bfloatValues = new ArrayList<>();
        for (int i = 0; i < half.length; i++) {
            half[i] = Float.floatToFloat16((float) random.gaussian());
            halfValues.add(Double.toString(Float.float16ToFloat(half[i])));
        }
        for (int i = 0; i < bfloat.length; i++) {
            bfloat[i] = (short) (Float.floatToRawIntBits((float) random.gaussian()) >>> 16);
            bfloatValues.add(Double.toString(Float.intBitsToFloat(bfloat[i] << 16)));
        }
        tensors.add(new Tensor("half", DType.F16, new long[] {5}, MemorySegment.ofArray(half)));
        expected.put("half", halfValues);
        tensors.add(new Tensor("bf", DType.BF16, new long[] {3, 1}, MemorySegment.ofArray(bfloat)));
        expected.put("bf", bfloatValues);

        float[] complex = random.normals(4, 1.0);
        tensors.add(new Tensor("complex", DType.C64, new long[] {2}, MemorySegment.ofArray(complex)));
        expected.put("complex", floatValues(complex));

        short[] shorts = {Short.MIN_VALUE, -1, 1, (short) random.nextInt(30000)};
        tensors.add(new Tensor("i16", DType.I16, new long[] {4}, MemorySegment.ofArray(shorts)));
        expected.put("i16", integerValues(shorts, false));
        tensors.add(new Tensor("u16", DType.U16, new long[] {2, 2}, MemorySegment.ofArray(shorts.clone())));
        expected.put("u16", integerValues(shorts, true));

        int[] ints = {Integer.MIN_VALUE, -1, 0, random.nextInt(1 << 30)};
        tensors.add(Tensor.of("i32", ints, 4));
        expected.put("i32", integerValues(ints, false));
        tensors.add(new Tensor("u32", DType.U32, new long[] {4}, MemorySegment.ofArray(ints.clone())));
        expected.put("u32", integerValues(ints, true));

        long[] step = {123_456_789_012L};
        tensors.add(Tensor.of("step", step));
        expected.put("step", integerValues(step, false));
        long[] unsigned = {-1L, Long.MIN_VALUE};
        tensors.add(new Tensor("u64", DType.U64, new long[] {2}, MemorySegment.ofArray(unsigned)));
        expected.put("u64", integerValues(unsigned, true));

        byte[] pixels = random.pixels(6);
        tensors.add(Tensor.of("pixels", pixels, 2, 3));
        expected.put("pixels", integerValues(pixels, true));
        byte[] signed = {-128, -1, 0, 127};
        tensors.add(new Tensor("i8", DType.I8, new long[] {4}, MemorySegment.ofArray(signed)));
        expected.put("i8", integerValues(signed, false));
        byte[] fp8 = {(byte) 0x80, 0x7e, 0x01};
        tensors.add(new Tensor("fp8", DType.F8_E4M3, new long[] {3}, MemorySegment.ofArray(fp8)));
        expected.put("fp8", integerValues(fp8, true));
        tensors.add(new Tensor("flags", DType.BOOL, new long[] {3}, MemorySegment.ofArray(new byte[] {1, 0, 1})));
        expected.put("flags", List.of("true", "false", "true"));

        tensors.add(Tensor.of("empty", new float[0], 0, 4));
        expected.put("empty", List.of());
        tensors.add(Tensor.of("ε \"quoted\" σ", new float[] {2.5f}, 1));
        expected.put("ε \"quoted\" σ", List.of("2.5"));

        Map<String, String> metadata = Map.of("format", "pt", "note", "line\nbreak \"quoted\" tab\t back\\slash",
                "π", "𝔼[log p(x)]");
        Path file = directory.resolve("checked.safetensors");
        SafeTensors.write(file, tensors, metadata);

        JsonNode report = runPythonReader(python.get(), file);
        Map<String, String> pythonMetadata = new LinkedHashMap<>();
        report.get("metadata").properties().forEach(entry -> pythonMetadata.put(entry.getKey(), entry.getValue().textValue()));
        assertEquals(metadata, pythonMetadata);
        JsonNode pythonTensors = report.get("tensors");
        assertEquals(tensors.size(), pythonTensors.size());
        for (Tensor tensor : tensors) {
            JsonNode seen = pythonTensors.get(tensor.name());
            assertTrue(seen != null, "python did not see " + tensor.name());
            assertEquals(tensor.dtype().name(), seen.get("dtype").textValue(), tensor.name());
            List<Long> shape = new ArrayList<>();
            seen.get("shape").forEach(dimension -> shape.add(dimension.longValue()));
            assertArrayEquals(tensor.shape(), shape.stream().mapToLong(Long::longValue).toArray(), tensor.name());
            List<String> values = new ArrayList<>();
            seen.get("values").forEach(value -> values.add(canonical(value)));
            assertEquals(expected.get(tensor.name()), values, tensor.name());
        }
    }

    /**
     * Reads a safetensors file with json and struct only, checks the reference's layout rules (8-byte-aligned
     * header padded with at most 7 spaces, compact JSON, __metadata__ first, entry keys in the reference's order,
     * tensors in descending dtype order then by name, contiguous from 0 to the end of the file, each aligned to
     * its element size) and prints the metadata and every tensor's decoded values as JSON.
     */
    private static final String PYTHON_READER = """
            import json, struct, sys

            # The reference implementation's dtype order (its Dtype enum), whole-byte types only.
            ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ",
                     "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"]
            SIZE = {"I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "C64": 8,
                    "F64": 8, "I64": 8, "U64": 8}
            FORMAT = {"BOOL": "?", "U8": "B", "I8": "b", "I16": "<h", "U16": "<H", "F16": "<e", "I32": "<i",
                      "U32": "<I", "F32": "<f", "C64": "<f", "F64": "<d", "I64": "<q", "U64": "<Q"}

            def fail(message):
                sys.stderr.write(message + chr(10))
                sys.exit(1)

            def decode(dtype, raw):
                if dtype == "BF16":
                    return [struct.unpack("<f", struct.pack("<I", h << 16))[0] for (h,) in struct.iter_unpack("<H", raw)]
                if dtype in FORMAT:
                    return [v for (v,) in struct.iter_unpack(FORMAT[dtype], raw)]
                return list(raw)

            data = open(sys.argv[1], "rb").read()
            (n,) = struct.unpack("<Q", data[:8])
            if n % 8 != 0:
                fail("header length %d is not a multiple of 8" % n)
            text = data[8:8 + n].decode("utf-8")
            body = text.rstrip(" ")
            if len(text) - len(body) > 7:
                fail("%d padding spaces" % (len(text) - len(body)))
            if json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False) != body:
                fail("the header is not compact JSON")
            entries = json.loads(body, object_pairs_hook=lambda pairs: pairs)
            names = [name for name, _ in entries]
            if len(set(names)) != len(names):
                fail("duplicate keys")
            metadata = {}
            if "__metadata__" in names:
                if names[0] != "__metadata__":
                    fail("__metadata__ is not first")
                metadata = dict(entries[0][1])
                if not all(isinstance(v, str) for v in metadata.values()):
                    fail("metadata values are not all strings")
                entries = entries[1:]
            start = 8 + n
            offset = 0
            previous = None
            tensors = {}
            for name, pairs in entries:
                if [key for key, _ in pairs] != ["dtype", "shape", "data_offsets"]:
                    fail(name + ": entry keys " + str([key for key, _ in pairs]))
                entry = dict(pairs)
                dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
                size = SIZE.get(dtype, 1)
                count = 1
                for dimension in shape:
                    count *= dimension
                if begin != offset or end - begin != count * size:
                    fail("%s: data_offsets %s, expected [%d, %d]" % (name, [begin, end], offset, offset + count * size))
                if (start + begin) % size != 0:
                    fail(name + " is not aligned to its element size")
                order = (-ORDER.index(dtype), name.encode("utf-8"))
                if previous is not None and order < previous:
                    fail(name + " is out of the reference's order")
                previous = order
                tensors[name] = {"dtype": dtype, "shape": shape, "values": decode(dtype, data[start + begin:start + end])}
                offset = end
            if start + offset != len(data):
                fail("the tensors cover %d of %d data bytes" % (offset, len(data) - start))
            print(json.dumps({"metadata": metadata, "tensors": tensors}))
            """;

    private static JsonNode runPythonReader(Path python, Path file) throws Exception {
        Path script = Files.writeString(file.resolveSibling("read_safetensors.py"), PYTHON_READER);
        Process process = new ProcessBuilder(python.toString(), script.toString(), file.toString()).start();
        process.getOutputStream().close();
        CompletableFuture<String> errors = CompletableFuture.supplyAsync(() -> readAll(process.getErrorStream()));
        String output = readAll(process.getInputStream());
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "python did not finish in 60 s");
        assertEquals(0, process.exitValue(), () -> "the Python reader refused the file: " + errors.join());
        return new ObjectMapper().readTree(output);
    }

    private static String readAll(java.io.InputStream stream) {
        try (stream) {
            return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** /usr/bin/python3 (Debian's), else the first python3 on the PATH; standard library only is needed. */
    private static Optional<Path> python() {
        List<Path> candidates = new ArrayList<>(List.of(Path.of("/usr/bin/python3")));
        for (String folder : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!folder.isEmpty()) {
                candidates.add(Path.of(folder, "python3"));
            }
        }
        return candidates.stream().filter(Files::isExecutable).findFirst();
    }

    /** A JSON value as the expectations below spell it. */
    private static String canonical(JsonNode value) {
        if (value.isBoolean()) {
            return value.asText();
        }
        if (value.isIntegralNumber()) {
            return value.bigIntegerValue().toString();
        }
        return Double.toString(value.doubleValue());
    }

    private static List<String> floatValues(float[] values) {
        List<String> strings = new ArrayList<>();
        for (float value : values) {
            strings.add(Double.toString(value));
        }
        return strings;
    }

    private static List<String> doubleValues(double[] values) {
        List<String> strings = new ArrayList<>();
        for (double value : values) {
            strings.add(Double.toString(value));
        }
        return strings;
    }

    private static List<String> integerValues(Object array, boolean unsigned) {
        List<String> strings = new ArrayList<>();
        switch (array) {
            case byte[] bytes -> {
                for (byte value : bytes) {
                    strings.add(Integer.toString(unsigned ? Byte.toUnsignedInt(value) : value));
                }
            }
            case short[] shorts -> {
                for (short value : shorts) {
                    strings.add(Integer.toString(unsigned ? Short.toUnsignedInt(value) : value));
                }
            }
            case int[] ints -> {
                for (int value : ints) {
                    strings.add(unsigned ? Integer.toUnsignedString(value) : Integer.toString(value));
                }
            }
            case long[] longs -> {
                for (long value : longs) {
                    strings.add(unsigned ? Long.toUnsignedString(value) : Long.toString(value));
                }
            }
            default -> throw new IllegalArgumentException("not an integer array: " + array);
        }
        return strings;
    }
}
