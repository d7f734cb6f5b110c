package dev.elbo4j.cuda;

import java.io.File;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Where the CUDA driver and cuBLAS libraries are looked for, and the loading itself.
 *
 * <p>Rules (the README repeats them):
 * <ol>
 *   <li>If system property {@value #LIBRARY_PROPERTY} is non-blank, else if environment variable
 *       {@value #LIBRARY_ENV} is non-blank, that ONE library provides both the driver and the cuBLAS symbols
 *       (the CPU emulator, {@code target/native/libelbo4j-cudaemu.so}). A value containing '/' is a path;
 *       otherwise a name for the system loader.</li>
 *   <li>Otherwise the driver is {@value #DRIVER_NAME} from the system loader (LD_LIBRARY_PATH, ld.so.cache,
 *       the default directories), and cuBLAS is {@code libcublas.so.13}, then {@code .12}, looked for in each
 *       directory of {@code ELBO4J_CUDA_LIBS} (a path list), {@code $CUDA_HOME/lib64}, {@code $CUDA_PATH/lib64},
 *       {@code /usr/local/cuda/lib64}, and finally by name through the system loader. A directory comes
 *       before a version: an explicitly named directory wins over a newer cuBLAS elsewhere.</li>
 * </ol>
 * Libraries are loaded into the global arena: they stay loaded for the life of the process.
 */
// FFM restricted methods (downcall linking, library loading, pointer reinterpretation) are this class's job.
@SuppressWarnings("restricted")
final class LibraryDiscovery {
    static final String LIBRARY_PROPERTY = "elbo4j.cuda.library";
    static final String LIBRARY_ENV = "ELBO4J_CUDA_LIBRARY";
    static final String CUBLAS_DIRECTORIES_ENV = "ELBO4J_CUDA_LIBS";
    static final String DRIVER_NAME = "libcuda.so.1";
    static final List<String> CUBLAS_NAMES = List.of("libcublas.so.13", "libcublas.so.12");
    static final Path DEFAULT_TOOLKIT_LIBRARIES = Path.of("/usr/local/cuda/lib64");

    /** One place to load a library from: a file, or a name the system loader resolves. */
    record Candidate(String description, Optional<Path> file, String loaderName) {
        static Candidate file(Path path, String origin) {
            return new Candidate(path + " (" + origin + ")", Optional.of(path), path.toString());
        }

        static Candidate systemLoader(String name) {
            return new Candidate(name + " (system loader: LD_LIBRARY_PATH, ld.so.cache, default directories)",
                    Optional.empty(), name);
        }
    }

    /** A loaded library and the candidate it came from. */
    record Loaded(SymbolLookup symbols, Candidate candidate) {
    }

    /** The single-library override and where it was set, e.g. "system property elbo4j.cuda.library". */
    record Override(String library, String origin) {
    }

    private final Optional<Override> override;
    private final List<Candidate> cublasCandidates;

    private LibraryDiscovery(Optional<Override> override, List<Candidate> cublasCandidates) {
        this.override = override;
        this.cublasCandidates = cublasCandidates;
    }

    /** The discovery this process uses: system properties and the environment. */
    static LibraryDiscovery fromEnvironment() {
        return of(System.getProperties().getProperty(LIBRARY_PROPERTY), System.getenv());
    }

    /**
     * Discovery from explicit settings (tests use this to avoid touching the process-wide runtime).
     *
     * @param libraryProperty the value of {@value #LIBRARY_PROPERTY}, or null when unset
     * @param environment     the environment variables
     */
    static LibraryDiscovery of(String libraryProperty, Map<String, String> environment) {
        Optional<Override> override;
        if (libraryProperty != null && !libraryProperty.isBlank()) {
            override = Optional.of(new Override(libraryProperty.strip(), "system property " + LIBRARY_PROPERTY));
        } else if (nonBlank(environment.get(LIBRARY_ENV))) {
            override = Optional.of(new Override(environment.get(LIBRARY_ENV).strip(),
                    "environment variable " + LIBRARY_ENV));
        } else {
            override = Optional.empty();
        }
        return new LibraryDiscovery(override, cublasSearchOrder(environment));
    }

    private static List<Candidate> cublasSearchOrder(Map<String, String> environment) {
        List<Path> directories = new ArrayList<>();
        List<String> origins = new ArrayList<>();
        String listed = environment.get(CUBLAS_DIRECTORIES_ENV);
        if (nonBlank(listed)) {
            for (String entry : listed.split(File.pathSeparator)) {
                if (!entry.isBlank()) {
                    directories.add(Path.of(entry.strip()));
                    origins.add(CUBLAS_DIRECTORIES_ENV);
                }
            }
        }
        for (String variable : List.of("CUDA_HOME", "CUDA_PATH")) {
            if (nonBlank(environment.get(variable))) {
                directories.add(Path.of(environment.get(variable).strip(), "lib64"));
                origins.add(variable);
            }
        }
        directories.add(DEFAULT_TOOLKIT_LIBRARIES);
        origins.add("default toolkit location");

        List<Candidate> candidates = new ArrayList<>();
        for (int i = 0; i < directories.size(); i++) {
            for (String name : CUBLAS_NAMES) {
                candidates.add(Candidate.file(directories.get(i).resolve(name), origins.get(i)));
            }
        }
        for (String name : CUBLAS_NAMES) {
            candidates.add(Candidate.systemLoader(name));
        }
        return List.copyOf(candidates);
    }

    Optional<Override> override() {
        return override;
    }

    /** Where the driver is looked for, in order. */
    List<Candidate> driverCandidates() {
        return override.map(o -> List.of(overrideCandidate(o))).orElseGet(() -> List.of(Candidate.systemLoader(DRIVER_NAME)));
    }

    /** Where cuBLAS is looked for, in order (the override library alone when one is set). */
    List<Candidate> cublasCandidates() {
        return override.map(o -> List.of(overrideCandidate(o))).orElse(cublasCandidates);
    }

    private static Candidate overrideCandidate(Override o) {
        return o.library().contains("/")
                ? Candidate.file(Path.of(o.library()), o.origin())
                : new Candidate(o.library() + " (" + o.origin() + ", through the system loader)",
                        Optional.empty(), o.library());
    }

    /** Loads the driver or throws {@link CudaUnavailableException} listing every place tried. */
    Loaded loadDriver() {
        String hint = override.isPresent()
                ? "Fix " + override.get().origin() + " (build the emulator with: bash native/build-emulator.sh target/native plain), or unset it to use the NVIDIA driver."
                : "Install the NVIDIA driver (it provides " + DRIVER_NAME + "), or run on the CPU emulator with -D"
                        + LIBRARY_PROPERTY + "=target/native/libelbo4j-cudaemu.so.";
        return loadFirst(driverCandidates(), "no CUDA driver library could be loaded", hint);
    }

    /** Loads cuBLAS or throws {@link CudaUnavailableException} listing every place tried. */
    Loaded loadCublas() {
        String hint = "Install the cuBLAS runtime (CUDA 12 or 13), or point " + CUBLAS_DIRECTORIES_ENV
                + " (a path list) or CUDA_HOME at the directory that holds libcublas.so.*.";
        return loadFirst(cublasCandidates(), "no cuBLAS library could be loaded", hint);
    }

    /** Tries each candidate in order; the first that loads wins. */
    static Loaded loadFirst(List<Candidate> candidates, String what, String hint) {
        List<String> attempts = new ArrayList<>();
        for (Candidate candidate : candidates) {
            Optional<String> failure = whyUnloadable(candidate);
            if (failure.isPresent()) {
                attempts.add(candidate.description() + ": " + failure.get());
                continue;
            }
            try {
                SymbolLookup symbols = candidate.file().isPresent()
                        ? SymbolLookup.libraryLookup(candidate.file().get(), Arena.global())
                        : SymbolLookup.libraryLookup(candidate.loaderName(), Arena.global());
                return new Loaded(symbols, candidate);
            } catch (IllegalArgumentException | IllegalCallerException e) {
                attempts.add(candidate.description() + ": could not be loaded: " + loaderError(candidate.loaderName(), e));
            }
        }
        throw new CudaUnavailableException(what, attempts, hint);
    }

    private static Optional<String> whyUnloadable(Candidate candidate) {
        if (candidate.file().isEmpty()) {
            return Optional.empty();
        }
        Path file = candidate.file().get();
        if (!Files.exists(file)) {
            return Optional.of("no such file");
        }
        if (!Files.isRegularFile(file)) {
            return Optional.of("not a regular file");
        }
        if (!Files.isReadable(file)) {
            return Optional.of("not readable");
        }
        return Optional.empty();
    }

    /**
     * The dynamic loader's own reason (dlerror), which {@link SymbolLookup#libraryLookup} does not report: the
     * library is opened once more through dlopen just to read it. Falls back to the JDK's message.
     */
    private static String loaderError(String nameOrPath, RuntimeException jdkFailure) {
        try {
            Linker linker = Linker.nativeLinker();
            SymbolLookup libc = linker.defaultLookup();
            Optional<MemorySegment> dlopen = libc.find("dlopen");
            Optional<MemorySegment> dlerror = libc.find("dlerror");
            Optional<MemorySegment> dlclose = libc.find("dlclose");
            if (dlopen.isEmpty() || dlerror.isEmpty() || dlclose.isEmpty()) {
                return jdkFailure.getMessage();
            }
            MethodHandle open = linker.downcallHandle(dlopen.get(),
                    FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            MethodHandle error = linker.downcallHandle(dlerror.get(), FunctionDescriptor.of(ValueLayout.ADDRESS));
            MethodHandle close = linker.downcallHandle(dlclose.get(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
            final int rtldLazy = 1;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment handle = (MemorySegment) open.invokeExact(arena.allocateFrom(nameOrPath), rtldLazy);
                if (!handle.equals(MemorySegment.NULL)) {
                    int ignored = (int) close.invokeExact(handle);
                    return jdkFailure.getMessage();
                }
                MemorySegment text = (MemorySegment) error.invokeExact();
                return text.equals(MemorySegment.NULL)
                        ? jdkFailure.getMessage()
                        : text.reinterpret(Long.MAX_VALUE).getString(0);
            }
        } catch (Throwable diagnosticFailure) {
            return jdkFailure.getMessage();
        }
    }

    private static boolean nonBlank(String value) {
        return value != null && !value.isBlank();
    }
}
