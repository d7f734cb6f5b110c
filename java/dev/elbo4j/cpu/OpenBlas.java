package dev.elbo4j.cpu;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;

/**
 * OpenBLAS's {@code cblas_sgemm} on Java float arrays, from the library that the Maven artifact
 * {@code org.bytedeco:openblas} carries (JavaCPP's {@link Loader} extracts it and its libgfortran into JavaCPP's
 * cache and loads them; no system BLAS is involved).
 *
 * <p>Why FFM and not JavaCPP's own {@code cblas_sgemm}: an FFM downcall with {@link Linker.Option#critical(boolean)
 * critical(true)} passes a {@code float[]} heap array to C without a copy (the GC is held off for the call), so every
 * buffer of the CPU backend stays a plain Java array that the JIT vectorizes loops over. JavaCPP's {@code float[]}
 * overload copies the arrays in and out, and its {@code FloatPointer} overload needs off-heap memory. Measured at
 * the model's shapes (B = 128, D = 784, H = 400), 2 OpenBLAS threads, 400 calls each, this 2-core machine shared
 * with other builds (load 3), microseconds per call, best of 3 rounds:
 * <pre>
 *                                   FFM critical float[]   JavaCPP FloatPointer   JavaCPP float[]
 *   x W^T        128 x 400 x 784        474 (169 GFLOP/s)      453 (177)               516 (155)
 *   dPre^T x     400 x 784 x 128        429 (187)              420 (191)               500 (161)
 *   dPre W       128 x 784 x 400        448 (179)              448 (179)               515 (156)
 * </pre>
 * FFM on heap arrays is as fast as JavaCPP on off-heap memory (within the noise) and 10-15% faster than JavaCPP on
 * arrays. ({@code dev.elbo4j.bench.CpuGemmBench} in bench/java repeats this comparison under JMH.) The CPU backend
 * calls this single-threaded and shares GEMMs out itself (see {@code CpuBackend}).
 */
@SuppressWarnings("restricted") // FFM downcall linking and library lookup are this class's job
final class OpenBlas {
    private static final int ROW_MAJOR = 101;
    private static final int NO_TRANSPOSE = 111;
    private static final int TRANSPOSE = 112;

    private static final MethodHandle SGEMM;
    private static final String VERSION;

    static {
        try {
            Loader.load(openblas_nolapack.class);
        } catch (UnsatisfiedLinkError | RuntimeException error) {
            throw new IllegalStateException("cannot load OpenBLAS from the org.bytedeco:openblas artifact (is its "
                    + "linux-x86_64 natives jar on the class path?): " + error.getMessage(), error);
        }
        SymbolLookup library = SymbolLookup.libraryLookup("libopenblas.so.0", Arena.global());
        MemorySegment sgemm = library.find("cblas_sgemm")
                .orElseThrow(() -> new IllegalStateException("libopenblas.so.0 has no cblas_sgemm"));
        SGEMM = Linker.nativeLinker().downcallHandle(sgemm,
                FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT,
                        ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT),
                Linker.Option.critical(true));
        VERSION = openblas_nolapack.class.getPackage().getImplementationVersion();
    }

    private OpenBlas() {
    }

    /** Loads the library (once); throws {@link IllegalStateException} saying why when it cannot. */
    static void load() {
        // the static initializer did the work
    }

    /** Sets OpenBLAS's thread count for every later call. */
    static void setThreads(int threads) {
        openblas_nolapack.blas_set_num_threads(threads);
    }

    /** "0.3.31-1.5.13", the artifact's version, or "unknown version". */
    static String version() {
        return VERSION != null ? VERSION : "unknown version";
    }

    /**
     * Row-major {@code C = alpha op(A) op(B) + beta C} on (array, offset) operands; the caller has checked every
     * size.
     */
    static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, float[] a, int aOffset,
                      int lda, float[] b, int bOffset, int ldb, float beta, float[] c, int cOffset, int ldc) {
        try {
            SGEMM.invokeExact(ROW_MAJOR, transA ? TRANSPOSE : NO_TRANSPOSE, transB ? TRANSPOSE : NO_TRANSPOSE,
                    m, n, k, alpha, at(a, aOffset), lda, at(b, bOffset), ldb, beta, at(c, cOffset), ldc);
        } catch (Throwable unexpected) {
            throw new IllegalStateException("cblas_sgemm failed", unexpected);
        }
    }

    private static MemorySegment at(float[] array, int offset) {
        MemorySegment segment = MemorySegment.ofArray(array);
        return offset == 0 ? segment : segment.asSlice((long) offset * Float.BYTES);
    }
}
