package dev.elbo4j.bench;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * How to call OpenBLAS's sgemm from Java, at the 784-400-20 VAE's shapes (B = 128, D = 784, H = 400): an FFM
 * downcall with {@code Linker.Option.critical(true)} on Java float arrays (what {@code dev.elbo4j.cpu.OpenBlas}
 * does), JavaCPP's binding on off-heap {@code FloatPointer}s, and JavaCPP's binding on float arrays (which copies
 * them). {@code shape}: {@code forward} x W^T (128 x 400 x 784), {@code weightGrad} dPre^T x (400 x 784 x 128),
 * {@code inputGrad} dPre W (128 x 784 x 400). {@code threads}: OpenBLAS's thread count.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp "target/test-classes:target/classes:$(cat cp.txt)" \
 *     org.openjdk.jmh.Main CpuGemmBench
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
public class CpuGemmBench {
    private static final int ROW_MAJOR = 101;
    private static final int NO_TRANSPOSE = 111;
    private static final int TRANSPOSE = 112;
    private static final int B = 128;
    private static final int D = 784;
    private static final int H = 400;

    @Param({"forward", "weightGrad", "inputGrad"})
    public String shape;

    @Param({"1", "2"})
    public int threads;

    private MethodHandle sgemm;
    private float[] a;
    private float[] b;
    private float[] c;
    private FloatPointer aPointer;
    private FloatPointer bPointer;
    private FloatPointer cPointer;
    private int transA;
    private int transB;
    private int m;
    private int n;
    private int k;
    private int lda;
    private int ldb;
    private int ldc;

    @Setup
    @SuppressWarnings("restricted")
    public void setup() {
        Loader.load(openblas_nolapack.class);
        openblas_nolapack.blas_set_num_threads(threads);
        sgemm = Linker.nativeLinker().downcallHandle(
                SymbolLookup.libraryLookup("libopenblas.so.0", Arena.global()).find("cblas_sgemm").orElseThrow(),
                FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT,
                        ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT),
                Linker.Option.critical(true));
        switch (shape) {
            case "forward" -> set(false, true, B, H, D, D, D, H);      // x (B x D) W^T, W (H x D)
            case "weightGrad" -> set(true, false, H, D, B, H, D, D);   // dPre^T (dPre B x H) x (B x D)
            case "inputGrad" -> set(false, false, B, D, H, H, D, D);   // dPre (B x H) W (H x D)
            default -> throw new IllegalArgumentException(shape);
        }
        SplittableRandom random = new SplittableRandom(1);
        a = new float[(transA == TRANSPOSE ? k : m) * lda];
        b = new float[(transB == TRANSPOSE ? n : k) * ldb];
        c = new float[m * ldc];
        for (float[] array : new float[][] {a, b}) {
            for (int i = 0; i < array.length; i++) {
                array[i] = (float) random.nextDouble(-1, 1);
            }
        }
        aPointer = new FloatPointer(a);
        bPointer = new FloatPointer(b);
        cPointer = new FloatPointer(c);
    }

    private void set(boolean transposeA, boolean transposeB, int rows, int columns, int inner, int strideA,
                     int strideB, int strideC) {
        transA = transposeA ? TRANSPOSE : NO_TRANSPOSE;
        transB = transposeB ? TRANSPOSE : NO_TRANSPOSE;
        m = rows;
        n = columns;
        k = inner;
        lda = strideA;
        ldb = strideB;
        ldc = strideC;
    }

    @TearDown
    public void tearDown() {
        aPointer.close();
        bPointer.close();
        cPointer.close();
    }

    @Benchmark
    public void ffmCriticalHeapArrays() throws Throwable {
        sgemm.invokeExact(ROW_MAJOR, transA, transB, m, n, k, 1f, MemorySegment.ofArray(a), lda,
                MemorySegment.ofArray(b), ldb, 0f, MemorySegment.ofArray(c), ldc);
    }

    @Benchmark
    public void javacppFloatPointer() {
        openblas_nolapack.cblas_sgemm(ROW_MAJOR, transA, transB, m, n, k, 1f, aPointer, lda, bPointer, ldb, 0f,
                cPointer, ldc);
    }

    @Benchmark
    public void javacppFloatArrays() {
        openblas_nolapack.cblas_sgemm(ROW_MAJOR, transA, transB, m, n, k, 1f, a, lda, b, ldb, 0f, c, ldc);
    }
}
