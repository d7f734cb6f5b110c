package dev.elbo4j.io;

import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The element types of a safetensors file, named as they appear in its header ({@code "F32"}, {@code "U8"}, ...).
 *
 * <p>These are the whole-byte types of the reference implementation (huggingface/safetensors); its sub-byte types
 * (F4, F6_E2M3, F6_E3M2) are not supported. <b>The declaration order is the reference's and matters:</b> the writer
 * puts tensors in descending order of it (then by name), as the reference does, so that a file written here is
 * byte-identical to the one the {@code safetensors} package writes for the same tensors and every tensor's data
 * starts at a multiple of its element size.
 */
public enum DType {
    BOOL(1, 1),
    U8(1, 1),
    I8(1, 1),
    F8_E5M2(1, 1),
    F8_E4M3(1, 1),
    F8_E8M0(1, 1),
    F8_E4M3FNUZ(1, 1),
    F8_E5M2FNUZ(1, 1),
    I16(2, 2),
    U16(2, 2),
    F16(2, 2),
    BF16(2, 2),
    I32(4, 4),
    U32(4, 4),
    F32(4, 4),
    /** Complex of two F32 (real, imaginary): 8 bytes, but byte order applies to each 4-byte part. */
    C64(8, 4),
    F64(8, 8),
    I64(8, 8),
    U64(8, 8);

    private static final Map<String, DType> BY_NAME =
            Arrays.stream(values()).collect(Collectors.toUnmodifiableMap(DType::name, Function.identity()));

    private final int byteSize;
    private final int scalarBytes;

    DType(int byteSize, int scalarBytes) {
        this.byteSize = byteSize;
        this.scalarBytes = scalarBytes;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** Width of the unit whose bytes are swapped between native and little-endian order (C64: each F32 part). */
    int scalarBytes() {
        return scalarBytes;
    }

    /** The type a header names, e.g. {@code "F32"}; empty for a name that is not one of these (case matters). */
    public static Optional<DType> byHeaderName(String name) {
        return Optional.ofNullable(BY_NAME.get(name));
    }
}
