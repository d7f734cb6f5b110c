package dev.elbo4j.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A file that is not a well-formed safetensors file, or does not hold the tensor a caller asked for with the
 * dtype and shape it expected. The message starts with the file and says what is wrong.
 */
public final class SafeTensorsFormatException extends IOException {

    private static final long serialVersionUID = 1L;

    /** A defect of {@code file}, e.g. "header length 120 runs past the end of the 64-byte file". */
    public SafeTensorsFormatException(Path file, String defect) {
        super(file + ": " + defect);
    }

    /** A defect found by a parser that says more in {@code cause}. */
    public SafeTensorsFormatException(Path file, String defect, Throwable cause) {
        super(file + ": " + defect, cause);
    }
}
