package dev.elbo4j.io;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Builds safetensors files byte by byte, independently of the writer under test. */
final class RawFiles {

    private RawFiles() {
    }

    /** The 8-byte little-endian header length, the header text as UTF-8 (unpadded), then {@code data}. */
    static byte[] file(String header, byte[] data) {
        return file(header.getBytes(StandardCharsets.UTF_8), data);
    }

    /** The 8-byte little-endian header length, the header bytes as given, then {@code data}. */
    static byte[] file(byte[] header, byte[] data) {
        return concat(lengthBytes(header.length), header, data);
    }

    /** {@code value} as 8 little-endian bytes. */
    static byte[] lengthBytes(long value) {
        return ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array();
    }

    /** Bytes from a string of hex pairs; spaces are ignored. */
    static byte[] hex(String pairs) {
        String digits = pairs.replace(" ", "");
        byte[] bytes = new byte[digits.length() / 2];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) Integer.parseInt(digits, 2 * i, 2 * i + 2, 16);
        }
        return bytes;
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            out.writeBytes(part);
        }
        return out.toByteArray();
    }
}
