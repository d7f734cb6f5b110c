package dev.elbo4j.io;

import static dev.elbo4j.io.RawFiles.concat;
import static dev.elbo4j.io.RawFiles.file;
import static dev.elbo4j.io.RawFiles.hex;
import static dev.elbo4j.io.RawFiles.lengthBytes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every defect the reader checks, each in a file that is otherwise well formed, refused with its own message. */
class SafeTensorsMalformedFileTest {

    @TempDir
    Path directory;

    private static final String F32_PAIR = "\"dtype\":\"F32\",\"shape\":[2]";

    static Stream<Arguments> defects() {
        return Stream.of(
                defect("empty file", new byte[0], "the file is 0 bytes, shorter than the 8-byte header length"),
                defect("7 bytes", new byte[7], "the file is 7 bytes, shorter than the 8-byte header length"),
                defect("header length past the end", concat(lengthBytes(100), "{}".getBytes()),
                        "header length 100 runs past the end of the 10-byte file"),
                defect("header length absurd", concat(lengthBytes(1L << 40), "{}".getBytes()),
                        "header length 1099511627776 is over the 100000000-byte limit"),
                defect("header length over 2^63", concat(lengthBytes(-1), "{}".getBytes()),
                        "header length 18446744073709551615 is over the 100000000-byte limit"),
                defect("header length just over the limit", concat(lengthBytes(100_000_001), "{}".getBytes()),
                        "header length 100000001 is over the 100000000-byte limit"),
                defect("not UTF-8", file(concat("{\"a".getBytes(), hex("c3 28"), "\":{}}".getBytes()), new byte[0]),
                        "the header is not valid UTF-8"),
                defect("UTF-8 encoded surrogate", file(concat("{\"".getBytes(), hex("ed a0 80"), "\":1}".getBytes()),
                        new byte[0]), "the header is not valid UTF-8"),
                defect("empty header", file("", new byte[0]), "the header is empty"),
                defect("blank header", file("        ", new byte[0]), "the header is empty"),
                defect("cut JSON", file("{\"a\":", new byte[0]), "the header is not valid JSON"),
                defect("JSON then garbage", file("{} x", new byte[0]), "the header is not valid JSON"),
                defect("two objects", file("{}{}", new byte[0]), "the header is not valid JSON"),
                defect("JSON with a comment", file("{/* c */}", new byte[0]), "the header is not valid JSON"),
                defect("array", file("[]", new byte[0]), "the header is a JSON array, not an object"),
                defect("string", file("\"x\"", new byte[0]), "the header is a JSON string, not an object"),
                defect("null", file("null", new byte[0]), "the header is a JSON null, not an object"),
                defect("entry not an object", file("{\"a\":5}", new byte[0]),
                        "tensor 'a': its entry is a JSON number, not an object"),
                defect("unknown key", header("{\"a\":{" + F32_PAIR + ",\"data_offsets\":[0,8],\"offsets\":[0,8]}}", 8),
                        "tensor 'a': unknown key 'offsets'"),
                defect("no dtype", header("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                        "tensor 'a': no dtype"),
                defect("no shape", header("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8),
                        "tensor 'a': no shape"),
                defect("no data_offsets", header("{\"a\":{" + F32_PAIR + "}}", 8), "tensor 'a': no data_offsets"),
                defect("unknown dtype", header("{\"a\":{\"dtype\":\"F17\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                        "tensor 'a': unknown dtype \"F17\" (known: BOOL, U8,"),
                defect("lower-case dtype", header("{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                        8), "tensor 'a': unknown dtype \"f32\""),
                defect("sub-byte dtype", header("{\"a\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1),
                        "tensor 'a': unknown dtype \"F4\""),
                defect("dtype a number", header("{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8),
                        "tensor 'a': unknown dtype 4"),
                defect("shape not an array", header("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}",
                        8), "tensor 'a': shape 2 is not an array"),
                defect("negative dimension", header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-1],"
                        + "\"data_offsets\":[0,8]}}", 8), "tensor 'a': shape [2,-1] has a dimension that is not a"
                        + " non-negative 64-bit integer: -1"),
                defect("fractional dimension", header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],"
                        + "\"data_offsets\":[0,8]}}", 8), "not a non-negative 64-bit integer: 2.5"),
                defect("dimension as a string", header("{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],"
                        + "\"data_offsets\":[0,8]}}", 8), "not a non-negative 64-bit integer: \"2\""),
                defect("dimension over 64 bits", header("{\"a\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],"
                        + "\"data_offsets\":[0,8]}}", 8), "not a non-negative 64-bit integer: 18446744073709551616"),
                defect("element count overflows", header("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],"
                        + "\"data_offsets\":[0,8]}}", 8), "tensor 'a': U8 [4294967296,4294967296] has more bytes than"
                        + " 64 bits count"),
                defect("byte count overflows", header("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
                        + "\"data_offsets\":[0,8]}}", 8), "tensor 'a': F32 [4611686018427387904] has more bytes than"
                        + " 64 bits count"),
                defect("offsets not an array", header("{\"a\":{" + F32_PAIR + ",\"data_offsets\":\"0-8\"}}", 8),
                        "tensor 'a': data_offsets \"0-8\" are not [begin, end], two non-negative 64-bit integers"),
                defect("one offset", header("{\"a\":{" + F32_PAIR + ",\"data_offsets\":[8]}}", 8),
                        "tensor 'a': data_offsets [8] are not [begin, end]"),
                defect("three offsets", header("{\"a\":{" + F32_PAIR + ",\"data_offsets\":[0,8,8]}}", 8),
                        "tensor 'a': data_offsets [0,8,8] are not [begin, end]"),
                defect("negative offset", header("{\"a\":{" + F32_PAIR + ",\"data_offsets\":[-8,0]}}", 8),
                        "tensor 'a': data_offsets [-8,0] are not [begin, end]"),
                defect("fractional offset", header("{\"a\":{" + F32_PAIR + ",\"data_offsets\":[0,8.0]}}", 8),
                        "tensor 'a': data_offsets [0,8.0] are not [begin, end]"),
                defect("null offset", header("{\"a\":{" + F32_PAIR + ",\"data_offsets\":[0,null]}}", 8),
                        "tensor 'a': data_offsets [0,null] are not [begin, end]"),
                defect("end before begin", header("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}",
                        8), "tensor 'a': data_offsets [8,0] end before they begin"),
                defect("size not dtype x count", header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],"
                        + "\"data_offsets\":[0,20]}}", 20), "tensor 'a': F32 [2,3] is 24 bytes, but data_offsets"
                        + " [0,20] span 20"),
                defect("data starting after 0", header("{\"a\":{" + F32_PAIR + ",\"data_offsets\":[4,12]}}", 12),
                        "bytes 0 to 4 of the data belong to no tensor (a gap before 'a')"),
                defect("gap between tensors", header("{\"a\":{" + F32_PAIR + ",\"data_offsets\":[0,8]},"
                        + "\"b\":{" + F32_PAIR + ",\"data_offsets\":[12,20]}}", 20),
                        "bytes 8 to 12 of the data belong to no tensor (a gap before 'b')"),
                defect("overlap", header("{\"a\":{" + F32_PAIR + ",\"data_offsets\":[0,8]},"
                        + "\"b\":{" + F32_PAIR + ",\"data_offsets\":[4,12]}}", 12),
                        "tensor 'b': data_offsets [4, 12] overlap tensor 'a', which ends at 8"),
                defect("same data twice", header("{\"a\":{" + F32_PAIR + ",\"data_offsets\":[0,8]},"
                        + "\"b\":{" + F32_PAIR + ",\"data_offsets\":[0,8]}}", 8),
                        "data_offsets [0, 8] overlap tensor 'a', which ends at 8"),
                defect("past the end (truncated file)", header("{\"a\":{" + F32_PAIR + ",\"data_offsets\":[0,8]}}", 5),
                        "tensor 'a': data_offsets [0, 8] run past the end of the data (5 bytes after the header;"
                                + " the file is truncated)"),
                defect("offsets far past the end", header("{\"a\":{\"dtype\":\"U8\",\"shape\":[9223372036854775800],"
                        + "\"data_offsets\":[0,9223372036854775800]}}", 8), "run past the end of the data (8 bytes"),
                defect("trailing bytes", header("{\"a\":{" + F32_PAIR + ",\"data_offsets\":[0,8]}}", 10),
                        "2 trailing bytes after the last tensor's data (the tensors cover 8 of 10 data bytes)"),
                defect("data but no tensor", header("{}", 3), "3 trailing bytes after the last tensor's data"),
                defect("duplicate tensor name", header("{\"a\":{" + F32_PAIR + ",\"data_offsets\":[0,8]},"
                        + "\"a\":{" + F32_PAIR + ",\"data_offsets\":[8,16]}}", 16),
                        "the header is not valid JSON: Duplicate field 'a'"),
                defect("duplicate key in an entry", header("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],"
                        + "\"data_offsets\":[0,8]}}", 8), "the header is not valid JSON: Duplicate field 'dtype'"),
                defect("duplicate metadata", header("{\"__metadata__\":{},\"__metadata__\":{}}", 0),
                        "Duplicate field '__metadata__'"),
                defect("metadata an array", header("{\"__metadata__\":[\"x\"]}", 0),
                        "__metadata__ is a JSON array, not an object of strings"),
                defect("metadata a string", header("{\"__metadata__\":\"x\"}", 0),
                        "__metadata__ is a JSON string, not an object of strings"),
                defect("metadata value a number", header("{\"__metadata__\":{\"step\":1}}", 0),
                        "__metadata__ value of 'step' is a JSON number, not a string"),
                defect("metadata value null", header("{\"__metadata__\":{\"k\":null}}", 0),
                        "__metadata__ value of 'k' is a JSON null, not a string"),
                defect("metadata value an object", header("{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0),
                        "__metadata__ value of 'k' is a JSON object, not a string"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("defects")
    void refusesWithAMessageNamingTheFileAndTheDefect(String description, byte[] content, String expected)
            throws IOException {
        Path file = directory.resolve("defect.safetensors");
        Files.write(file, content);
        SafeTensorsFormatException refused = assertThrows(SafeTensorsFormatException.class,
                () -> SafeTensors.open(file).close());
        assertTrue(refused.getMessage().startsWith(file + ": "), refused.getMessage());
        assertTrue(refused.getMessage().contains(expected),
                () -> "expected \"" + expected + "\" in: " + refused.getMessage());
    }

    @Test
    void theSameFileWithoutTheDefectIsAccepted() throws IOException {
        // The control for the cases above: their common shape, well formed, opens.
        Path file = directory.resolve("good.safetensors");
        Files.write(file, header("{\"__metadata__\":{\"k\":\"v\"},\"a\":{" + F32_PAIR + ",\"data_offsets\":[0,8]},"
                + "\"b\":{" + F32_PAIR + ",\"data_offsets\":[8,16]}}", 16));
        try (SafeTensors opened = SafeTensors.open(file)) {
            assertEquals(2, opened.tensors().size());
            assertEquals("v", opened.metadata().get("k"));
        }
    }

    @Test
    void aMissingFileIsAnIOExceptionNamingIt() {
        Path missing = directory.resolve("missing.safetensors");
        IOException refused = assertThrows(IOException.class, () -> SafeTensors.open(missing));
        assertTrue(refused.getMessage().contains(missing.toString()), refused.getMessage());
    }

    private static Arguments defect(String description, byte[] content, String expectedMessage) {
        return Arguments.of(description, content, expectedMessage);
    }

    /** A file with this header (unpadded) and {@code dataBytes} zero bytes of data. */
    private static byte[] header(String json, int dataBytes) {
        return file(json.getBytes(StandardCharsets.UTF_8), new byte[dataBytes]);
    }
}
