package dev.elbo4j.cuda;

import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * The FFM plumbing {@link DriverApi} and {@link CublasApi} share: binds the symbols of one loaded library to
 * downcall handles, collecting the names of missing required ones so that a library lacking several is
 * reported once, with all of them.
 */
// FFM restricted methods (downcall linking) are this class's job.
@SuppressWarnings("restricted")
final class Downcalls {
    private final SymbolLookup symbols;
    private final String library;
    private final Linker linker = Linker.nativeLinker();
    private final List<String> missing = new ArrayList<>();

    /**
     * @param symbols the loaded library
     * @param library how it was found, for messages
     */
    Downcalls(SymbolLookup symbols, String library) {
        this.symbols = symbols;
        this.library = library;
    }

    /** Binds a function returning a status code (CUresult, cublasStatus_t: an int); records it when missing. */
    MethodHandle required(String name, MemoryLayout... arguments) {
        MethodHandle handle = optional(name, arguments);
        if (handle == null) {
            missing.add(name);
        }
        return handle;
    }

    /** Binds a function returning a status code (an int), or returns null when the library lacks it. */
    MethodHandle optional(String name, MemoryLayout... arguments) {
        return optional(name, FunctionDescriptor.of(JAVA_INT, arguments));
    }

    /** Binds a function of any signature, or returns null when the library lacks it. */
    MethodHandle optional(String name, FunctionDescriptor signature) {
        return symbols.find(name).map(symbol -> linker.downcallHandle(symbol, signature)).orElse(null);
    }

    /**
     * Throws {@link CudaUnavailableException} naming every missing required function, if any.
     *
     * @param problem what is wrong, e.g. "the cuBLAS library lacks functions elbo4j needs"
     * @param hint    what elbo4j needs instead
     */
    void requireAllFound(String problem, String hint) {
        if (!missing.isEmpty()) {
            throw new CudaUnavailableException(problem, List.of(library + ": missing " + String.join(", ", missing)),
                    hint);
        }
    }

    /**
     * Rethrows what a downcall's {@code invokeExact} threw. Downcalls declare Throwable but cannot throw
     * checked exceptions; written {@code throw unexpected(t)} so the compiler sees the call site end.
     */
    static RuntimeException unexpected(Throwable t) {
        if (t instanceof RuntimeException runtime) {
            throw runtime;
        }
        if (t instanceof Error error) {
            throw error;
        }
        throw new IllegalStateException("unexpected exception from a native call", t);
    }
}
