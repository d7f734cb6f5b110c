package dev.elbo4j.data;

import java.io.IOException;

/** A file that is not a well-formed IDX file of the expected kind; the message names the file and the defect. */
public final class IdxFormatException extends IOException {

    private static final long serialVersionUID = 1L;

    /** A defect found while parsing; {@code message} starts with the file name. */
    public IdxFormatException(String message) {
        super(message);
    }

    /** A defect found while reading, e.g. corrupt gzip data ({@code cause}). */
    public IdxFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
