package dev.elbo4j.cli;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Whether a standard stream is a terminal, so that progress is redrawn in place ({@code \r}) only where a person
 * watches it, and written as plain lines in a log file or a pipe. {@link System#console()} cannot tell: it looks at
 * standard input and output, while progress goes to standard error.
 */
final class Terminal {
    /** File descriptor of standard error. */
    static final int STANDARD_ERROR = 2;

    private Terminal() {
    }

    /**
     * Whether file descriptor {@code fd} is a terminal (POSIX {@code isatty}); false where the C library has no
     * {@code isatty} or it cannot be called.
     */
    // FFM restricted method: the module (or the class path, for java -jar) is granted native access.
    @SuppressWarnings("restricted")
    static boolean isTerminal(int fd) {
        Linker linker = Linker.nativeLinker();
        return linker.defaultLookup().find("isatty").map(symbol -> {
            MethodHandle isatty = linker.downcallHandle(symbol,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            try {
                return (int) isatty.invokeExact(fd) == 1;
            } catch (Throwable e) {
                return false;
            }
        }).orElse(false);
    }
}
