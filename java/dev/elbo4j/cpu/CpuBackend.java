package dev.elbo4j.cpu;

import static dev.elbo4j.cpu.CpuBuffers.arrayLength;
import static dev.elbo4j.cpu.CpuBuffers.bytes;
import static dev.elbo4j.cpu.CpuBuffers.floats;
import static dev.elbo4j.cpu.CpuBuffers.ints;
import static dev.elbo4j.cpu.CpuBuffers.optionalFloats;

import java.util.Objects;

import dev.elbo4j.cpu.CpuBuffers.CpuBytes;
import dev.elbo4j.cpu.CpuBuffers.CpuFloats;
import dev.elbo4j.cpu.CpuBuffers.CpuInts;
import dev.elbo4j.cpu.CpuBuffers.Root;
import dev.elbo4j.cuda.GemmPrecision;
import dev.elbo4j.nn.Activation;
import dev.elbo4j.nn.AdamSettings;
import dev.elbo4j.nn.Backend;
import dev.elbo4j.nn.KlSchedule;
import dev.elbo4j.nn.StepStatus;
import dev.elbo4j.reference.Bernoulli;
import dev.elbo4j.reference.Gaussian;
import dev.elbo4j.reference.Philox;
import dev.elbo4j.shape.DenseShape;
import dev.elbo4j.shape.LatentShape;
import dev.elbo4j.shape.LikelihoodShape;
import dev.elbo4j.shape.SampleShape;

/**
 * The fast CPU backend: GEMMs through OpenBLAS ({@link OpenBlas}, from the {@code org.bytedeco:openblas} artifact),
 * everything else as fused loops over rows on a persistent pool of threads, on plain Java arrays that the JIT
 * vectorizes. A step allocates nothing: every operation's arguments go into a preallocated task object.
 *
 * <p>Threads: OpenBLAS runs single-threaded and the pool cuts each large GEMM into blocks of C, one per thread.
 * OpenBLAS's own threads wait for each other by spinning, which collapses when the machine is busy: with other
 * builds running on this 2-core machine (load average about 10), the 784-400-20 training step ran at 80-86 steps/s
 * with the pool's blocks and at 5-6 steps/s with OpenBLAS on 2 threads of its own (GEMMs 172 ms a step instead of
 * 7.7 ms), measured one after the other by a scratch profiler (a timing proxy around this backend, 468 steps).
 *
 * <p>Determinism: elementwise operations do not depend on how rows are shared out; every reduction (bias
 * gradients, the Gaussian log-variance gradient, the gradient norm, the batch totals) adds in one fixed order that
 * does not depend on the thread count, so the same inputs on the same number of threads give the same bits. GEMMs
 * are cut into one block of C per thread (never along k); OpenBLAS's rounding depends on the size of the block it
 * is given, so runs on different thread counts differ in the last bits (measured: the test negative ELBO after one
 * epoch of the PyTorch example's setup is 262.92 nats on 2 threads, 263.09 on 1). Everything else is already
 * independent of the thread count: with every GEMM cut into 4 blocks whatever the threads, 1, 2 and 3 threads
 * trained 784-400-20 to the same bits (a scratch test, 3 steps at batch 64). That cut is not taken because it
 * costs: OpenBLAS repacks the other operand for each block (the model's four large GEMMs at batch 128 and 1024,
 * thread CPU time of one thread: 2 to 10% more as 4 blocks than as 2, up to 11% more than whole), and a fixed count
 * would cap the GEMMs' parallelism on machines with more cores than blocks. (And OpenBLAS picks its kernels by
 * CPU, so the bits would still differ between machines.)
 *
 * <p>Precision: float32 storage; transcendental functions (exp, log, tanh, the Box-Muller normals) in double,
 * rounded once; row sums in double. Results match {@code dev.elbo4j.reference} within the spec's tolerances.
 * Only {@link GemmPrecision#FP32} is offered.
 */
public final class CpuBackend implements Backend {

    private static final double LOG_TWO_PI = Math.log(2.0 * Math.PI);
    private static final double TWO_PI = 2.0 * Math.PI;
    /** Elements per partial sum of the gradient norm: fixed, so the sum's order never depends on the threads. */
    private static final int NORM_BLOCK = 8192;
    /** Below this many multiply-adds (m n k) a GEMM runs as one call on the calling thread. */
    private static final long SPLIT_GEMM_WORK = 1L << 20;
    /** Elements per chunk of elementwise passes over the flat buffers (Adam). */
    private static final int FLAT_CHUNK = 16384;

    private final WorkerPool pool;
    private final GatherTask gatherTask;
    private final BiasActivationTask biasActivationTask = new BiasActivationTask();
    private final ActivationBackwardTask activationBackwardTask = new ActivationBackwardTask();
    private final ColumnSumTask columnSumTask = new ColumnSumTask();
    private final LatentForwardTask latentForwardTask;
    private final LatentBackwardTask latentBackwardTask;
    private final BernoulliTask bernoulliTask = new BernoulliTask();
    private final GaussianTask gaussianTask = new GaussianTask();
    private final GaussianLogVarianceTask gaussianLogVarianceTask = new GaussianLogVarianceTask();
    private final IwaeTask iwaeTask = new IwaeTask();
    private final NormTask normTask = new NormTask();
    private final AdamTask adamTask = new AdamTask();
    private final GemmTask gemmTask = new GemmTask();
    private final NoiseCache noiseCache = new NoiseCache();
    private double[] normPartials = new double[0];
    private double[] klPerDimension = new double[0];
    private volatile boolean closed;

    private CpuBackend(int threads) {
        OpenBlas.load();
        OpenBlas.setThreads(1); // the pool shares out the GEMMs itself: see the class comment
        this.pool = new WorkerPool(threads);
        this.gatherTask = new GatherTask(threads);
        this.latentForwardTask = new LatentForwardTask(threads);
        this.latentBackwardTask = new LatentBackwardTask(threads);
    }

    /** The most threads a backend takes: far more than any machine it was measured on gains from. */
    public static final int MAX_THREADS = 256;

    /**
     * A backend running on {@code threads} threads: its loops and its GEMM blocks (OpenBLAS itself single-threaded).
     *
     * @throws IllegalArgumentException when {@code threads} is not 1 to {@link #MAX_THREADS}
     * @throws IllegalStateException    when OpenBLAS cannot be loaded or the threads cannot be started (the message
     *                                  says why)
     */
    public static CpuBackend create(int threads) {
        if (threads < 1 || threads > MAX_THREADS) {
            throw new IllegalArgumentException("threads must be 1 to " + MAX_THREADS + " but is " + threads);
        }
        return new CpuBackend(threads);
    }

    /** A backend on {@link #defaultThreads()} threads. */
    public static CpuBackend create() {
        return create(defaultThreads());
    }

    /** One thread per processor of the machine, at most {@link #MAX_THREADS}. */
    public static int defaultThreads() {
        return Math.min(Runtime.getRuntime().availableProcessors(), MAX_THREADS);
    }

    /** The number of threads. */
    public int threads() {
        return pool.threads();
    }

    @Override
    public String description() {
        return "cpu (OpenBLAS " + OpenBlas.version() + ", " + pool.threads() + " threads)";
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            pool.close();
        }
    }

    boolean isClosed() {
        return closed;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the CPU backend is closed");
        }
    }

    // ------------------------------------------------------------------------------------------------ memory

    @Override
    public Floats allocateFloats(long count) {
        checkOpen();
        int length = arrayLength(count, "floats");
        return new CpuFloats(new Root(this), new float[length], 0, length);
    }

    @Override
    public Bytes allocateBytes(long count) {
        checkOpen();
        int length = arrayLength(count, "bytes");
        return new CpuBytes(new Root(this), new byte[length], 0, length);
    }

    @Override
    public Ints allocateInts(long count) {
        checkOpen();
        return new CpuInts(new Root(this), new int[arrayLength(count, "ints")]);
    }

    @Override
    public void upload(float[] source, Floats destination) {
        Objects.requireNonNull(source, "source");
        CpuFloats to = floats(this, destination, "destination", 0);
        sameLength(source.length, to.length);
        System.arraycopy(source, 0, to.array, to.offset, to.length);
    }

    @Override
    public void upload(byte[] source, Bytes destination) {
        Objects.requireNonNull(source, "source");
        CpuBytes to = bytes(this, destination, "destination", 0);
        sameLength(source.length, to.length);
        System.arraycopy(source, 0, to.array, to.offset, to.length);
    }

    @Override
    public void upload(int[] source, Ints destination) {
        Objects.requireNonNull(source, "source");
        CpuInts to = ints(this, destination, "destination", 0);
        sameLength(source.length, to.array.length);
        System.arraycopy(source, 0, to.array, 0, source.length);
    }

    @Override
    public void download(Floats source, float[] destination) {
        Objects.requireNonNull(destination, "destination");
        CpuFloats from = floats(this, source, "source", 0);
        sameLength(destination.length, from.length);
        System.arraycopy(from.array, from.offset, destination, 0, from.length);
    }

    private static void sameLength(int hostLength, int bufferLength) {
        if (hostLength != bufferLength) {
            throw new IllegalArgumentException("the host array has " + hostLength + " elements but the buffer "
                    + bufferLength);
        }
    }

    // ------------------------------------------------------------------------------------------------ state

    /** The step state: plain fields (the "backend memory" of the CPU). */
    private static final class CpuStepState implements StepState {
        final CpuBackend owner;
        boolean closed;
        long step;
        long updates;
        long cursor;
        long skipped;
        long skippedInARow;
        float loss;
        float elbo;
        float kl;
        float beta;
        float gradientNorm;
        double lossSum;
        double elboSum;
        double klSum;
        long summedSteps;

        CpuStepState(CpuBackend owner) {
            this.owner = owner;
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    private CpuStepState state(StepState state) {
        Objects.requireNonNull(state, "state");
        if (!(state instanceof CpuStepState cpu) || cpu.owner != this) {
            throw new IllegalArgumentException("state is not a step state of this CPU backend");
        }
        if (cpu.closed) {
            throw new IllegalStateException("state is closed");
        }
        return cpu;
    }

    @Override
    public StepState allocateState() {
        checkOpen();
        CpuStepState state = new CpuStepState(this);
        writeState(state, StepStatus.initial());
        return state;
    }

    @Override
    public StepStatus readState(StepState handle) {
        CpuStepState s = state(handle);
        return new StepStatus(s.step, s.updates, s.cursor, s.skipped, s.skippedInARow, s.loss, s.elbo, s.kl, s.beta,
                s.gradientNorm, s.lossSum, s.elboSum, s.klSum, s.summedSteps);
    }

    @Override
    public void writeState(StepState handle, StepStatus status) {
        CpuStepState s = state(handle);
        Objects.requireNonNull(status, "status");
        s.step = status.step();
        s.updates = status.updates();
        s.cursor = status.cursor();
        s.skipped = status.skipped();
        s.skippedInARow = status.skippedInARow();
        s.loss = status.loss();
        s.elbo = status.elbo();
        s.kl = status.kl();
        s.beta = status.beta();
        s.gradientNorm = status.gradientNorm();
        s.lossSum = status.lossSum();
        s.elboSum = status.elboSum();
        s.klSum = status.klSum();
        s.summedSteps = status.summedSteps();
    }

    @Override
    public void advance(StepState handle, int rows) {
        CpuStepState s = state(handle);
        if (rows < 0) {
            throw new IllegalArgumentException("rows must be at least 0 but is " + rows);
        }
        s.step++;
        s.cursor += rows;
    }

    // ------------------------------------------------------------------------------------------------ data

    @Override
    public void gatherRows(Bytes dataset, int dims, Ints order, StepState handle, int rows, boolean binarize,
                           long seed, Floats x) {
        checkOpen();
        CpuStepState s = state(handle);
        positive(dims, "D (dims)");
        positive(rows, "B (rows)");
        CpuBytes data = bytes(this, dataset, "dataset", dims);
        long cursorEnd = s.cursor + rows;
        CpuInts indices = ints(this, order, "order", cursorEnd);
        CpuFloats out = floats(this, x, "x", (long) rows * dims);
        int datasetRows = data.length / dims;
        for (long i = s.cursor; i < cursorEnd; i++) {
            int row = indices.array[(int) i];
            if (row < 0 || row >= datasetRows) {
                throw new IllegalArgumentException("order[" + i + "] = " + row + " is not a row of a data set of "
                        + datasetRows + " rows");
            }
        }
        GatherTask task = gatherTask;
        task.data = data;
        task.order = indices.array;
        task.cursor = (int) s.cursor;
        task.dims = dims;
        task.binarize = binarize;
        task.seed = seed;
        task.offset = (int) s.step;
        task.out = out;
        // Counted as 4 operations a pixel (a load from a random row, the conversion, the division, the store): at
        // 128 x 784 the gather then takes both threads, 0.14 ms a step alone and 0.09 ms on two (measured).
        pool.run(task, rows, pool.chunkFor(rows, 2, 8), 4L * rows * dims);
        task.data = null;
        task.out = null;
    }

    private static final class GatherTask extends WorkerPool.RangeTask {
        final int[][] words;
        CpuBytes data;
        int[] order;
        int cursor;
        int dims;
        boolean binarize;
        long seed;
        int offset;
        CpuFloats out;

        GatherTask(int threads) {
            words = new int[threads][4];
        }

        @Override
        void run(int from, int to, int worker) {
            byte[] pixels = data.array;
            float[] x = out.array;
            int[] block = words[worker];
            for (int i = from; i < to; i++) {
                int source = data.offset + order[cursor + i] * dims;
                int target = out.offset + i * dims;
                if (!binarize) {
                    for (int d = 0; d < dims; d++) {
                        x[target + d] = (pixels[source + d] & 0xFF) / 255f;
                    }
                } else {
                    long first = (long) i * dims;
                    long loaded = -1;
                    for (int d = 0; d < dims; d++) {
                        long n = first + d;
                        if ((n >>> 2) != loaded) {
                            loaded = n >>> 2;
                            Philox.block((int) loaded, (int) (loaded >>> 32), offset, Philox.STREAM_BINARIZATION,
                                    (int) seed, (int) (seed >>> 32), block);
                        }
                        float value = (pixels[source + d] & 0xFF) / 255f;
                        x[target + d] = Philox.uniform(block[(int) (n & 3)]) <= value ? 1f : 0f;
                    }
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ dense

    @Override
    public boolean supports(GemmPrecision precision) {
        return precision == GemmPrecision.FP32;
    }

    @Override
    public void gemm(GemmPrecision precision, boolean transA, boolean transB, int m, int n, int k, float alpha,
                     Floats a, int lda, Floats b, int ldb, float beta, Floats c, int ldc) {
        checkOpen();
        Objects.requireNonNull(precision, "precision");
        if (!supports(precision)) {
            throw new IllegalArgumentException("GEMM precision " + precision + " is not available on the CPU "
                    + "backend: it computes in FP32 only (TF32 and BF16 are tensor-core formats of a GPU)");
        }
        positive(m, "m");
        positive(n, "n");
        positive(k, "k");
        CpuFloats matrixA = matrix(a, "A", transA ? k : m, transA ? m : k, lda);
        CpuFloats matrixB = matrix(b, "B", transB ? n : k, transB ? k : n, ldb);
        CpuFloats matrixC = matrix(c, "C", m, n, ldc);
        if (matrixC.array == matrixA.array || matrixC.array == matrixB.array) {
            overlapCheck(matrixC, (long) (m - 1) * ldc + n, matrixA, transA ? (long) (k - 1) * lda + m
                    : (long) (m - 1) * lda + k, "A");
            overlapCheck(matrixC, (long) (m - 1) * ldc + n, matrixB, transB ? (long) (n - 1) * ldb + k
                    : (long) (k - 1) * ldb + n, "B");
        }
        if (pool.threads() == 1 || (long) m * n * k < SPLIT_GEMM_WORK) {
            OpenBlas.sgemm(transA, transB, m, n, k, alpha, matrixA.array, matrixA.offset, lda, matrixB.array,
                    matrixB.offset, ldb, beta, matrixC.array, matrixC.offset, ldc);
            return;
        }
        GemmTask task = gemmTask;
        task.transA = transA;
        task.transB = transB;
        task.m = m;
        task.n = n;
        task.k = k;
        task.alpha = alpha;
        task.beta = beta;
        task.a = matrixA;
        task.b = matrixB;
        task.c = matrixC;
        task.lda = lda;
        task.ldb = ldb;
        task.ldc = ldc;
        task.byColumns = n >= m;
        int extent = task.byColumns ? n : m;
        int chunk = (extent + pool.threads() - 1) / pool.threads();
        chunk = (chunk + 15) / 16 * 16;
        pool.run(task, extent, chunk, Long.MAX_VALUE);
        task.a = task.b = task.c = null;
    }

    /**
     * One GEMM cut into column (or row) blocks of C, one single-threaded OpenBLAS call per block on the pool's
     * threads; the cut depends only on the shape and the thread count, so the bits do too.
     */
    private static final class GemmTask extends WorkerPool.RangeTask {
        boolean transA;
        boolean transB;
        boolean byColumns;
        int m;
        int n;
        int k;
        float alpha;
        float beta;
        CpuFloats a;
        CpuFloats b;
        CpuFloats c;
        int lda;
        int ldb;
        int ldc;

        @Override
        void run(int from, int to, int worker) {
            if (byColumns) {
                int bOffset = b.offset + (transB ? from * ldb : from);
                OpenBlas.sgemm(transA, transB, m, to - from, k, alpha, a.array, a.offset, lda, b.array, bOffset, ldb,
                        beta, c.array, c.offset + from, ldc);
            } else {
                int aOffset = a.offset + (transA ? from : from * lda);
                OpenBlas.sgemm(transA, transB, to - from, n, k, alpha, a.array, aOffset, lda, b.array, b.offset, ldb,
                        beta, c.array, c.offset + from * ldc, ldc);
            }
        }
    }

    private CpuFloats matrix(Floats buffer, String name, int rows, int columns, int stride) {
        if (stride < columns) {
            throw new IllegalArgumentException("the row stride of " + name + " (" + stride + ") is less than its "
                    + columns + " columns");
        }
        return floats(this, buffer, name, (long) (rows - 1) * stride + columns);
    }

    private static void overlapCheck(CpuFloats c, long cSpan, CpuFloats other, long otherSpan, String name) {
        if (c.array == other.array && c.offset < other.offset + otherSpan && other.offset < c.offset + cSpan) {
            throw new IllegalArgumentException("C overlaps " + name);
        }
    }

    @Override
    public void biasActivation(DenseShape shape, Floats bias, Activation activation, Floats preActivation,
                               Floats output) {
        checkOpen();
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(activation, "activation");
        long elements = shape.outputElements();
        BiasActivationTask task = biasActivationTask;
        task.setBias(floats(this, bias, "bias", shape.outputs()), shape.outputs());
        task.pre = floats(this, preActivation, "preActivation", elements);
        task.out = floats(this, output, "output", elements);
        if (task.out.array == task.pre.array && task.out.offset == task.pre.offset
                && activation != Activation.IDENTITY) {
            throw new IllegalArgumentException("output may be preActivation itself only for IDENTITY, not "
                    + activation + ": the backward needs the pre-activation");
        }
        task.activation = activation;
        task.columns = shape.outputs();
        pool.run(task, shape.rows(), pool.chunkFor(shape.rows(), 2, 4), elements);
        task.clear();
    }

    /**
     * C2 (JDK 25) vectorizes a loop only when it can prove that no store aliases a load at another index: two float
     * arrays may be one array, so {@code p[po + o]} and {@code b[bo + o]} with different offsets keep a loop scalar
     * (measured 4-8x slower). Hence the loops below index every float array with one shared expression, and read
     * the bias from a {@code double[]} copy (another element type cannot alias a float array).
     */
    private static final class BiasActivationTask extends WorkerPool.RangeTask {
        double[] bias = new double[0];
        CpuFloats pre;
        CpuFloats out;
        Activation activation;
        int columns;

        void setBias(CpuFloats values, int count) {
            if (bias.length < count) {
                bias = new double[count];
            }
            for (int o = 0; o < count; o++) {
                bias[o] = values.array[values.offset + o];
            }
        }

        @Override
        void run(int from, int to, int worker) {
            double[] b = bias;
            float[] p = pre.array;
            float[] y = out.array;
            int n = columns;
            int shift = out.offset - pre.offset;
            if (shift != 0) {
                // Views at different offsets (not the model's case): the plain loop.
                for (int r = from; r < to; r++) {
                    int base = pre.offset + r * n;
                    for (int o = 0; o < n; o++) {
                        float v = p[base + o] + (float) b[o];
                        p[base + o] = v;
                        y[base + shift + o] = (float) activation.apply(v);
                    }
                }
                return;
            }
            for (int r = from; r < to; r++) {
                int base = pre.offset + r * n;
                switch (activation) {
                    case IDENTITY -> {
                        for (int o = 0; o < n; o++) {
                            float v = p[base + o] + (float) b[o];
                            p[base + o] = v;
                            y[base + o] = v;
                        }
                    }
                    case RELU -> {
                        for (int o = 0; o < n; o++) {
                            float v = p[base + o] + (float) b[o];
                            p[base + o] = v;
                            y[base + o] = Math.max(v, 0f); // NaN for NaN, as Activation.RELU (not fmaxf's 0)
                        }
                    }
                    case LEAKY_RELU -> {
                        float slope = (float) Activation.LEAKY_SLOPE;
                        for (int o = 0; o < n; o++) {
                            float v = p[base + o] + (float) b[o];
                            p[base + o] = v;
                            y[base + o] = v > 0f ? v : slope * v;
                        }
                    }
                    case TANH, SILU -> {
                        for (int o = 0; o < n; o++) {
                            float v = p[base + o] + (float) b[o];
                            p[base + o] = v;
                            y[base + o] = (float) activation.apply(v);
                        }
                    }
                }
            }
        }

        void clear() {
            pre = out = null;
        }
    }

    @Override
    public void activationBackward(DenseShape shape, Activation activation, Floats preActivation, Floats dOutput,
                                   Floats dPreActivation) {
        checkOpen();
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(activation, "activation");
        long elements = shape.outputElements();
        ActivationBackwardTask task = activationBackwardTask;
        task.pre = floats(this, preActivation, "preActivation", elements);
        task.dOut = floats(this, dOutput, "dOutput", elements);
        task.dPre = floats(this, dPreActivation, "dPreActivation", elements);
        task.activation = activation;
        task.columns = shape.outputs();
        pool.run(task, shape.rows(), pool.chunkFor(shape.rows(), 2, 4), elements);
        task.pre = task.dOut = task.dPre = null;
    }

    /** Like {@link BiasActivationTask}: one index expression for all arrays where their offsets agree. */
    private static final class ActivationBackwardTask extends WorkerPool.RangeTask {
        CpuFloats pre;
        CpuFloats dOut;
        CpuFloats dPre;
        Activation activation;
        int columns;

        @Override
        void run(int from, int to, int worker) {
            float[] p = pre.array;
            float[] g = dOut.array;
            float[] d = dPre.array;
            int n = columns;
            boolean aligned = pre.offset == dOut.offset && pre.offset == dPre.offset;
            for (int r = from; r < to; r++) {
                int base = pre.offset + r * n;
                if (!aligned) {
                    int go = dOut.offset + r * n;
                    int dd = dPre.offset + r * n;
                    for (int o = 0; o < n; o++) {
                        d[dd + o] = (float) (g[go + o] * activation.derivative(p[base + o]));
                    }
                    continue;
                }
                switch (activation) {
                    case IDENTITY -> {
                        for (int o = 0; o < n; o++) {
                            d[base + o] = g[base + o];
                        }
                    }
                    case RELU -> {
                        // Multiplied, not selected: a NaN or infinite gradient stays non-finite where the
                        // derivative is 0 (dY * 0 in the reference), and the derivative at NaN is 1 (PyTorch's).
                        for (int o = 0; o < n; o++) {
                            int sign = signClass(p[base + o]);
                            d[base + o] = g[base + o] * (float) (1 ^ ((sign ^ (sign >> 1)) & 1));
                        }
                    }
                    case LEAKY_RELU -> {
                        // Slope at NaN and at 0, 1 above 0; factor 1 or exactly the slope, so dY * factor is the
                        // reference's dY or slope * dY.
                        float slope = (float) Activation.LEAKY_SLOPE;
                        for (int o = 0; o < n; o++) {
                            int sign = signClass(p[base + o]);
                            float above = (float) ((sign >> 1) & sign);
                            d[base + o] = g[base + o] * (above + slope * (1f - above));
                        }
                    }
                    case TANH, SILU -> {
                        for (int o = 0; o < n; o++) {
                            d[base + o] = (float) (g[base + o] * activation.derivative(p[base + o]));
                        }
                    }
                }
            }
        }
    }

    /**
     * 3 for {@code a > 0}, 1 for {@code a < 0}, 2 for a zero, 0 for NaN ({@code (int)} maps NaN to 0): the derivative
     * tests of ReLU and leaky ReLU as integer arithmetic. C2 vectorizes {@code Math.signum}, the casts and the bit
     * operations but not a comparison that selects floats ({@code a <= 0 ? 0 : 1} becomes a branch, mispredicted
     * about every other element on random signs): measured on 128 x 400 elements, 6 us against 60-90 us.
     */
    private static int signClass(float a) {
        return (int) (Math.signum(a) + 2f);
    }

    @Override
    public void biasGradient(DenseShape shape, Floats dPreActivation, Floats dBias) {
        checkOpen();
        Objects.requireNonNull(shape, "shape");
        columnSums(floats(this, dPreActivation, "dPreActivation", shape.outputElements()), shape.rows(),
                shape.outputs(), 1.0, floats(this, dBias, "dBias", shape.outputs()));
    }

    /** {@code out[c] = scale * sum_r in[r][c]}, each column in row order, in double; columns shared out. */
    private void columnSums(CpuFloats in, int rows, int columns, double scale, CpuFloats out) {
        ColumnSumTask task = columnSumTask;
        task.in = in;
        task.rows = rows;
        task.columns = columns;
        task.scale = scale;
        task.out = out;
        task.ensureScratch(pool.threads(), columns);
        pool.run(task, columns, pool.chunkFor(columns, 1, 64), (long) rows * columns);
        task.in = task.out = null;
    }

    private static final class ColumnSumTask extends WorkerPool.RangeTask {
        double[][] sums = new double[0][];
        CpuFloats in;
        CpuFloats out;
        int rows;
        int columns;
        double scale;

        void ensureScratch(int threads, int width) {
            if (sums.length < threads || sums[0].length < width) {
                sums = new double[threads][width];
            }
        }

        @Override
        void run(int from, int to, int worker) {
            double[] acc = sums[worker];
            float[] a = in.array;
            int width = to - from;
            java.util.Arrays.fill(acc, 0, width, 0.0);
            for (int r = 0; r < rows; r++) {
                int base = in.offset + r * columns + from;
                for (int c = 0; c < width; c++) {
                    acc[c] += a[base + c];
                }
            }
            for (int c = 0; c < width; c++) {
                out.array[out.offset + from + c] = (float) (scale * acc[c]);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ latent

    @Override
    public void latentForward(LatentShape shape, Floats muLogvar, long seed, StepState handle, Floats z, Floats kl,
                              Floats logRatio) {
        checkOpen();
        Objects.requireNonNull(shape, "shape");
        CpuStepState s = state(handle);
        LatentForwardTask task = latentForwardTask;
        task.muLogvar = floats(this, muLogvar, "muLogvar", shape.encoderElements());
        task.z = floats(this, z, "z", shape.sampleElements());
        task.kl = optionalFloats(this, kl, "kl", shape.batch());
        task.logRatio = optionalFloats(this, logRatio, "logRatio", (long) shape.samples() * shape.batch());
        task.shape = shape;
        task.seed = seed;
        task.offset = (int) s.step;
        task.ensureScratch(shape.latent());
        task.noise = noiseCache.prepare(shape);
        pool.run(task, shape.batch(), pool.chunkFor(shape.batch(), 2, 1), 16 * shape.sampleElements());
        if (task.noise != null) {
            noiseCache.keep(seed, task.offset, shape);
        }
        task.muLogvar = task.z = task.kl = task.logRatio = null;
        task.noise = null;
    }

    /**
     * Standard normals {@code eps[k][b][0..L)} (Philox elements from {@code first = (k*B + b)*L}) into
     * {@code out[at..at + count)}. Box-Muller turns each Philox block's four words into two pairs of normals: both
     * of a pair come from one logarithm and square root, computed once per block.
     */
    private static void normals(long seed, int offset, long first, int count, int[] words, float[] out, int at) {
        long loaded = -1;
        float n0 = 0;
        float n1 = 0;
        float n2 = 0;
        float n3 = 0;
        for (int i = 0; i < count; i++) {
            long n = first + i;
            if ((n >>> 2) != loaded) {
                loaded = n >>> 2;
                Philox.block((int) loaded, (int) (loaded >>> 32), offset, Philox.STREAM_REPARAMETERIZATION,
                        (int) seed, (int) (seed >>> 32), words);
                double radius0 = Math.sqrt(-2.0 * Math.log(Philox.uniform(words[0])));
                double angle0 = TWO_PI * Philox.uniform(words[1]);
                double radius1 = Math.sqrt(-2.0 * Math.log(Philox.uniform(words[2])));
                double angle1 = TWO_PI * Philox.uniform(words[3]);
                n0 = (float) (radius0 * Math.cos(angle0));
                n1 = (float) (radius0 * Math.sin(angle0));
                n2 = (float) (radius1 * Math.cos(angle1));
                n3 = (float) (radius1 * Math.sin(angle1));
            }
            int j = (int) (n & 3);
            out[at + i] = j == 0 ? n0 : j == 1 ? n1 : j == 2 ? n2 : n3;
        }
    }

    /**
     * The reparameterization noise of the last {@link #latentForward}, kept for the {@link #latentBackward} of the
     * same step. The noise is a function of the seed, the step and the shape alone, so a backward with the same
     * three reads it instead of drawing it again (the same floats; half a step's Box-Muller work). Up to
     * {@link #MAX_FLOATS}: an evaluation's many samples are drawn and not kept.
     */
    private static final class NoiseCache {
        static final int MAX_FLOATS = 1 << 20;
        float[] values = new float[0];
        long seed;
        int offset;
        /** The shape of the kept noise; null while {@link #values} holds none. */
        LatentShape shape;

        /** The array the forward of {@code shape} should write its noise into, or null when it is too large. */
        float[] prepare(LatentShape forward) {
            shape = null;
            long size = forward.sampleElements();
            if (size > MAX_FLOATS) {
                return null;
            }
            if (values.length < size) {
                values = new float[(int) size];
            }
            return values;
        }

        void keep(long noiseSeed, int noiseOffset, LatentShape forward) {
            seed = noiseSeed;
            offset = noiseOffset;
            shape = forward;
        }

        /** The kept noise when it is that of {@code (seed, offset, backward)}, else null. */
        float[] lookup(long noiseSeed, int noiseOffset, LatentShape backward) {
            return shape != null && seed == noiseSeed && offset == noiseOffset && shape.equals(backward) ? values : null;
        }
    }

    private static final class LatentForwardTask extends WorkerPool.RangeTask {
        final int[][] words;
        float[][] eps;
        /** Where the noise goes for the backward (indexed as z), or null: per-worker scratch. */
        float[] noise;
        CpuFloats muLogvar;
        CpuFloats z;
        CpuFloats kl;
        CpuFloats logRatio;
        LatentShape shape;
        long seed;
        int offset;

        LatentForwardTask(int threads) {
            words = new int[threads][4];
            eps = new float[threads][0];
        }

        void ensureScratch(int latent) {
            if (eps[0].length < latent) {
                eps = new float[eps.length][latent];
            }
        }

        @Override
        void run(int from, int to, int worker) {
            int latent = shape.latent();
            int batch = shape.batch();
            int stride = shape.rowStride();
            float[] ml = muLogvar.array;
            int mo = muLogvar.offset;
            for (int b = from; b < to; b++) {
                int row = mo + b * stride;
                if (kl != null) {
                    double sum = 0;
                    for (int l = 0; l < latent; l++) {
                        double mu = ml[row + l];
                        double logvar = ml[row + latent + l];
                        sum += mu * mu + Math.exp(logvar) - 1.0 - logvar;
                    }
                    kl.array[kl.offset + b] = (float) (0.5 * sum);
                }
                for (int k = 0; k < shape.samples(); k++) {
                    long first = ((long) k * batch + b) * latent;
                    float[] e = noise != null ? noise : eps[worker];
                    int eo = noise != null ? (int) first : 0;
                    normals(seed, offset, first, latent, words[worker], e, eo);
                    double ratio = 0;
                    int zo = z.offset + (int) first;
                    for (int l = 0; l < latent; l++) {
                        float logvar = ml[row + latent + l];
                        float epsilon = e[eo + l];
                        float sample = (float) (ml[row + l] + Math.exp(0.5 * logvar) * epsilon);
                        z.array[zo + l] = sample;
                        ratio += (double) epsilon * epsilon + logvar - (double) sample * sample;
                    }
                    if (logRatio != null) {
                        // log p(z) - log q(z|x) = -0.5 sum (z^2 + log 2pi) + 0.5 sum (eps^2 + log 2pi + logvar)
                        logRatio.array[logRatio.offset + k * batch + b] = (float) (0.5 * ratio);
                    }
                }
            }
        }
    }

    @Override
    public void latentBackward(LatentShape shape, Floats muLogvar, Floats dz, long seed, StepState handle,
                               Floats klWeights, Floats dMuLogvar) {
        checkOpen();
        Objects.requireNonNull(shape, "shape");
        CpuStepState s = state(handle);
        LatentBackwardTask task = latentBackwardTask;
        task.muLogvar = floats(this, muLogvar, "muLogvar", shape.encoderElements());
        task.dz = floats(this, dz, "dz", shape.sampleElements());
        task.klWeights = floats(this, klWeights, "klWeights", shape.latent());
        task.dMuLogvar = floats(this, dMuLogvar, "dMuLogvar", shape.encoderElements());
        task.shape = shape;
        task.seed = seed;
        task.offset = (int) s.step;
        task.ensureScratch(shape.latent());
        task.noise = noiseCache.lookup(seed, task.offset, shape);
        pool.run(task, shape.batch(), pool.chunkFor(shape.batch(), 2, 1), 16 * shape.sampleElements());
        task.muLogvar = task.dz = task.klWeights = task.dMuLogvar = null;
        task.noise = null;
    }

    private static final class LatentBackwardTask extends WorkerPool.RangeTask {
        final int[][] words;
        float[][] eps;
        /** The forward's noise (indexed as z) when the cache holds this step's, else null: drawn again. */
        float[] noise;
        double[][] sums;
        CpuFloats muLogvar;
        CpuFloats dz;
        CpuFloats klWeights;
        CpuFloats dMuLogvar;
        LatentShape shape;
        long seed;
        int offset;

        LatentBackwardTask(int threads) {
            words = new int[threads][4];
            eps = new float[threads][0];
            sums = new double[threads][0];
        }

        void ensureScratch(int latent) {
            if (eps[0].length < latent) {
                eps = new float[eps.length][latent];
                sums = new double[sums.length][2 * latent];
            }
        }

        @Override
        void run(int from, int to, int worker) {
            int latent = shape.latent();
            int batch = shape.batch();
            int stride = shape.rowStride();
            double[] acc = sums[worker];
            float[] ml = muLogvar.array;
            float[] g = dz.array;
            float[] w = klWeights.array;
            for (int b = from; b < to; b++) {
                int row = muLogvar.offset + b * stride;
                java.util.Arrays.fill(acc, 0, 2 * latent, 0.0);
                for (int k = 0; k < shape.samples(); k++) {
                    long first = ((long) k * batch + b) * latent;
                    float[] e = noise;
                    int eo = (int) first;
                    if (e == null) {
                        e = eps[worker];
                        eo = 0;
                        normals(seed, offset, first, latent, words[worker], e, 0);
                    }
                    int go = dz.offset + (int) first;
                    for (int l = 0; l < latent; l++) {
                        double sigma = Math.exp(0.5 * ml[row + latent + l]);
                        acc[l] += g[go + l];
                        acc[latent + l] += (double) g[go + l] * (sigma * e[eo + l]);
                    }
                }
                int out = dMuLogvar.offset + b * stride;
                for (int l = 0; l < latent; l++) {
                    double weight = w[klWeights.offset + l];
                    double logvar = ml[row + latent + l];
                    dMuLogvar.array[out + l] = (float) (acc[l] + weight * ml[row + l]);
                    dMuLogvar.array[out + latent + l] =
                            (float) (0.5 * acc[latent + l] + weight * 0.5 * (Math.exp(logvar) - 1.0));
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ likelihoods

    @Override
    public void bernoulliLoss(LikelihoodShape shape, Floats logits, Floats x, float gradScale, Floats logProb,
                              Floats grad) {
        checkOpen();
        Objects.requireNonNull(shape, "shape");
        finite(gradScale, "gradScale");
        BernoulliTask task = bernoulliTask;
        task.ensureScratch(pool.threads(), shape.dims());
        task.logits = floats(this, logits, "logits", shape.outputElements());
        task.x = floats(this, x, "x", shape.dataElements());
        task.logProb = floats(this, logProb, "logProb", (long) shape.samples() * shape.batch());
        task.grad = optionalFloats(this, grad, "grad", shape.outputElements());
        task.batch = shape.batch();
        task.dims = shape.dims();
        task.gradScale = gradScale;
        int rows = shape.samples() * shape.batch();
        pool.run(task, rows, pool.chunkFor(rows, 2, 4), 8 * shape.outputElements());
        task.logits = task.x = task.logProb = task.grad = null;
    }

    /**
     * The Bernoulli pass in three vectorizable loops per row instead of one scalar loop: Math.exp and Math.log are
     * scalar calls that keep C2 from vectorizing, so {@code e = exp(-|l|)} comes from {@link #expNegAbs} and
     * {@code log1p(e)} from a series, both plain double arithmetic (relative error below 1e-12, far inside the
     * float32 outputs). Measured on one row-major batch of 128 x 784 logits: 1.7-2.7 ms against 5.5-12 ms for the
     * loop with Math.exp and Math.log1p (a scratch comparison of the first version, on this machine while it was
     * shared, load about 9).
     */
    private static final class BernoulliTask extends WorkerPool.RangeTask {
        double[][] exps = new double[0][];
        double[][] targets = new double[0][];
        double[][] terms = new double[0][];
        CpuFloats logits;
        CpuFloats x;
        CpuFloats logProb;
        CpuFloats grad;
        int batch;
        int dims;
        float gradScale;

        void ensureScratch(int threads, int width) {
            if (exps.length < threads || exps[0].length < width) {
                exps = new double[threads][width];
                targets = new double[threads][width];
                terms = new double[threads][width];
            }
        }

        @Override
        void run(int from, int to, int worker) {
            float[] l = logits.array;
            float[] t = x.array;
            double[] e = exps[worker];
            double[] target = targets[worker];
            double[] term = terms[worker];
            int n = dims;
            double scale = gradScale;
            boolean gradient = grad != null;
            // The gradient shares the logits' index only when both buffers start alike (the model's roots).
            boolean aligned = gradient && grad.offset == logits.offset;
            for (int r = from; r < to; r++) {
                int lo = logits.offset + r * n;
                int xo = x.offset + (r % batch) * n;
                for (int d = 0; d < n; d++) {
                    target[d] = t[xo + d];
                }
                expNegAbs(l, lo, n, e);
                if (aligned) {
                    float[] g = grad.array;
                    for (int d = 0; d < n; d++) {
                        // sigmoid(l) = 1 / (1 + e) for l >= 0, e / (1 + e) below: selected by arithmetic (a
                        // comparison would be a branch, mispredicted on random signs, and keep the loop scalar).
                        double atLeastZero = signClass(l[lo + d]) >> 1;
                        double inverse = 1.0 / (1.0 + e[d]);
                        double sigmoid = (atLeastZero + (1.0 - atLeastZero) * e[d]) * inverse;
                        g[lo + d] = (float) (scale * (sigmoid - target[d]));
                    }
                } else if (gradient) {
                    int go = grad.offset + r * n;
                    for (int d = 0; d < n; d++) {
                        double inverse = 1.0 / (1.0 + e[d]);
                        double sigmoid = l[lo + d] >= 0 ? inverse : e[d] * inverse;
                        grad.array[go + d] = (float) (scale * (sigmoid - target[d]));
                    }
                }
                for (int d = 0; d < n; d++) {
                    double logit = l[lo + d];
                    term[d] = target[d] * logit - (Math.max(logit, 0.0) + log1pUnit(e[d]));
                }
                double sum = sumOfFour(term, n);
                if (sum != sum) {
                    // A NaN term: an infinite logit (Inf - Inf or 0 * Inf above); the reference's limit instead.
                    for (int d = 0; d < n; d++) {
                        if (term[d] != term[d]) {
                            term[d] = Bernoulli.logTerm(target[d], l[lo + d]);
                        }
                    }
                    sum = sumOfFour(term, n);
                }
                logProb.array[logProb.offset + r] = (float) sum;
            }
        }
    }

    /**
     * {@code values[0..n)} summed as four interleaved running sums, combined in a fixed order: four independent
     * chains of additions instead of one (whose latency bounds a plain sum), the same order on every run.
     */
    static double sumOfFour(double[] values, int n) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int d = 0;
        for (; d + 3 < n; d += 4) {
            s0 += values[d];
            s1 += values[d + 1];
            s2 += values[d + 2];
            s3 += values[d + 3];
        }
        for (; d < n; d++) {
            s0 += values[d];
        }
        return (s0 + s1) + (s2 + s3);
    }

    /**
     * {@code e[d] = exp(-min(|l[offset + d]|, 100))} for {@code d < n}: {@code exp(y)} with {@code y = -min(|l|, 100)
     * / 256} in [-0.4, 0] by its Taylor polynomial of degree 13 (Horner; truncation below 1e-16), then squared 8
     * times (which multiplies the relative error by 256: below 1e-13); plain double arithmetic that C2
     * vectorizes. Beyond |l| = 100, {@code e^-|l|} (below 4e-44) is replaced by {@code e^-100}: a change below
     * 4e-44 in the sigmoid and the softplus, invisible in their float32 results.
     */
    static void expNegAbs(float[] l, int offset, int n, double[] e) {
        for (int d = 0; d < n; d++) {
            double y = Math.min(Math.abs((double) l[offset + d]), 100.0) * (-1.0 / 256);
            double p = 1.0 / 6227020800.0;
            p = p * y + 1.0 / 479001600.0;
            p = p * y + 1.0 / 39916800.0;
            p = p * y + 1.0 / 3628800.0;
            p = p * y + 1.0 / 362880.0;
            p = p * y + 1.0 / 40320.0;
            p = p * y + 1.0 / 5040.0;
            p = p * y + 1.0 / 720.0;
            p = p * y + 1.0 / 120.0;
            p = p * y + 1.0 / 24.0;
            p = p * y + 1.0 / 6.0;
            p = p * y + 0.5;
            p = p * y + 1.0;
            p = p * y + 1.0;
            p = p * p;
            p = p * p;
            p = p * p;
            p = p * p;
            p = p * p;
            p = p * p;
            p = p * p;
            e[d] = p * p;
        }
    }

    /**
     * {@code log(1 + e)} for {@code e} in [0, 1]: {@code 2 atanh(s)} with {@code s = e / (2 + e)} in [0, 1/3], by the
     * series {@code 2 s (1 + s^2/3 + ... + s^24/25)} (truncation below 1e-13 relative).
     */
    static double log1pUnit(double e) {
        double s = e / (2.0 + e);
        double s2 = s * s;
        double q = 1.0 / 25;
        q = q * s2 + 1.0 / 23;
        q = q * s2 + 1.0 / 21;
        q = q * s2 + 1.0 / 19;
        q = q * s2 + 1.0 / 17;
        q = q * s2 + 1.0 / 15;
        q = q * s2 + 1.0 / 13;
        q = q * s2 + 1.0 / 11;
        q = q * s2 + 1.0 / 9;
        q = q * s2 + 1.0 / 7;
        q = q * s2 + 1.0 / 5;
        q = q * s2 + 1.0 / 3;
        q = q * s2 + 1.0;
        return 2.0 * s * q;
    }

    @Override
    public void gaussianLoss(LikelihoodShape shape, Floats mean, Floats x, LogVariance logVariance, float gradScale,
                             Floats logProb, Floats gradMean, Floats gradLogVar) {
        checkOpen();
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(logVariance, "logVariance");
        finite(gradScale, "gradScale");
        GaussianTask task = gaussianTask;
        task.mean = floats(this, mean, "mean", shape.outputElements());
        task.x = floats(this, x, "x", shape.dataElements());
        task.logProb = floats(this, logProb, "logProb", (long) shape.samples() * shape.batch());
        task.gradMean = optionalFloats(this, gradMean, "gradMean", shape.outputElements());
        task.values = null;
        task.valuesPerRow = false;
        task.gradLogVarRows = null;
        CpuFloats gradPerDimension = null;
        switch (logVariance) {
            case LogVariance.Fixed fixed -> {
                finite(fixed.value(), "the fixed log-variance");
                if (gradLogVar != null) {
                    throw new IllegalArgumentException(
                            "gradLogVar must be null for a fixed log-variance: a constant has no gradient");
                }
                task.fixed = fixed.value();
            }
            case LogVariance.PerDimension perDimension -> {
                task.values = floats(this, perDimension.values(), "logVariance (per dimension)", shape.dims());
                gradPerDimension = optionalFloats(this, gradLogVar, "gradLogVar (per dimension)", shape.dims());
            }
            case LogVariance.PerRow perRow -> {
                task.values = floats(this, perRow.values(), "logVariance (per row)", shape.outputElements());
                task.valuesPerRow = true;
                task.gradLogVarRows = optionalFloats(this, gradLogVar, "gradLogVar (per row)",
                        shape.outputElements());
            }
        }
        task.batch = shape.batch();
        task.dims = shape.dims();
        task.gradScale = gradScale;
        int rows = shape.samples() * shape.batch();
        pool.run(task, rows, pool.chunkFor(rows, 2, 4), 8 * shape.outputElements());
        if (gradPerDimension != null) {
            GaussianLogVarianceTask columns = gaussianLogVarianceTask;
            columns.mean = task.mean;
            columns.x = task.x;
            columns.values = task.values;
            columns.out = gradPerDimension;
            columns.rows = rows;
            columns.batch = shape.batch();
            columns.dims = shape.dims();
            columns.gradScale = gradScale;
            pool.run(columns, shape.dims(), pool.chunkFor(shape.dims(), 1, 16), 8 * shape.outputElements());
            columns.mean = columns.x = columns.values = columns.out = null;
        }
        task.mean = task.x = task.logProb = task.gradMean = task.values = task.gradLogVarRows = null;
    }

    private static final class GaussianTask extends WorkerPool.RangeTask {
        CpuFloats mean;
        CpuFloats x;
        CpuFloats logProb;
        CpuFloats gradMean;
        CpuFloats values;
        CpuFloats gradLogVarRows;
        boolean valuesPerRow;
        float fixed;
        int batch;
        int dims;
        float gradScale;

        @Override
        void run(int from, int to, int worker) {
            for (int r = from; r < to; r++) {
                int mo = mean.offset + r * dims;
                int xo = x.offset + (r % batch) * dims;
                double sum = 0;
                for (int d = 0; d < dims; d++) {
                    double s = values == null ? fixed
                            : values.array[values.offset + (valuesPerRow ? r * dims : 0) + d];
                    double diff = (double) x.array[xo + d] - mean.array[mo + d];
                    double square = Gaussian.weightedSquare(diff, s);
                    sum += LOG_TWO_PI + s + square;
                    if (gradMean != null) {
                        gradMean.array[gradMean.offset + r * dims + d] =
                                (float) Gaussian.product(gradScale, Gaussian.product(-diff, Math.exp(-s)));
                    }
                    if (gradLogVarRows != null) {
                        gradLogVarRows.array[gradLogVarRows.offset + r * dims + d] =
                                (float) Gaussian.product(gradScale, 0.5 * (1.0 - square));
                    }
                }
                logProb.array[logProb.offset + r] = (float) (-0.5 * sum);
            }
        }
    }

    private static final class GaussianLogVarianceTask extends WorkerPool.RangeTask {
        CpuFloats mean;
        CpuFloats x;
        CpuFloats values;
        CpuFloats out;
        int rows;
        int batch;
        int dims;
        float gradScale;

        @Override
        void run(int from, int to, int worker) {
            for (int d = from; d < to; d++) {
                double s = values.array[values.offset + d];
                double sum = 0;
                for (int r = 0; r < rows; r++) {
                    double diff = (double) x.array[x.offset + (r % batch) * dims + d] - mean.array[mean.offset
                            + r * dims + d];
                    sum += 0.5 * (1.0 - Gaussian.weightedSquare(diff, s));
                }
                out.array[out.offset + d] = (float) Gaussian.product(gradScale, sum);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ totals

    @Override
    public void lossTotals(StepState handle, KlSchedule schedule, LatentShape shape, Floats muLogvar,
                           Floats logProb, Floats kl, Floats klWeights) {
        checkOpen();
        CpuStepState s = state(handle);
        Objects.requireNonNull(schedule, "schedule");
        Objects.requireNonNull(shape, "shape");
        int batch = shape.batch();
        int latent = shape.latent();
        int samples = shape.samples();
        CpuFloats ml = floats(this, muLogvar, "muLogvar", shape.encoderElements());
        CpuFloats lp = floats(this, logProb, "logProb", (long) samples * batch);
        CpuFloats klRows = floats(this, kl, "kl", batch);
        CpuFloats weights = floats(this, klWeights, "klWeights", latent);
        float beta = schedule.betaAt(s.step);
        double logProbSum = 0;
        for (int r = 0; r < samples * batch; r++) {
            logProbSum += lp.array[lp.offset + r];
        }
        double klSum = 0;
        for (int b = 0; b < batch; b++) {
            klSum += klRows.array[klRows.offset + b];
        }
        double meanLogProb = logProbSum / ((double) samples * batch);
        double meanKl = klSum / batch;
        double klTerm = meanKl;
        float rowWeight = (float) ((double) beta / batch);
        if (schedule.freeBits() > 0) {
            if (klPerDimension.length < latent) {
                klPerDimension = new double[latent];
            }
            java.util.Arrays.fill(klPerDimension, 0, latent, 0.0);
            for (int b = 0; b < batch; b++) {
                int row = ml.offset + b * shape.rowStride();
                for (int l = 0; l < latent; l++) {
                    double mu = ml.array[row + l];
                    double logvar = ml.array[row + latent + l];
                    klPerDimension[l] += 0.5 * (mu * mu + Math.exp(logvar) - 1.0 - logvar);
                }
            }
            klTerm = 0;
            for (int l = 0; l < latent; l++) {
                double dimension = klPerDimension[l] / batch;
                boolean held = dimension < schedule.freeBits();
                klTerm += held ? schedule.freeBits() : dimension;
                weights.array[weights.offset + l] = held ? 0f : rowWeight;
            }
        } else {
            for (int l = 0; l < latent; l++) {
                weights.array[weights.offset + l] = rowWeight;
            }
        }
        s.beta = beta;
        s.loss = (float) (-meanLogProb + beta * klTerm);
        s.elbo = (float) (meanLogProb - meanKl);
        s.kl = (float) meanKl;
        if (Float.isFinite(s.loss)) {
            s.lossSum += s.loss;
            s.elboSum += s.elbo;
            s.klSum += s.kl;
            s.summedSteps++;
        }
    }

    @Override
    public void iwaeBound(SampleShape shape, Floats logPx, Floats logRatio, Floats bound) {
        checkOpen();
        Objects.requireNonNull(shape, "shape");
        IwaeTask task = iwaeTask;
        task.logPx = floats(this, logPx, "logPx", shape.rows());
        task.logRatio = floats(this, logRatio, "logRatio", shape.rows());
        task.bound = floats(this, bound, "bound", shape.batch());
        task.samples = shape.samples();
        task.batch = shape.batch();
        pool.run(task, shape.batch(), pool.chunkFor(shape.batch(), 2, 8), 4 * shape.rows());
        task.logPx = task.logRatio = task.bound = null;
    }

    private static final class IwaeTask extends WorkerPool.RangeTask {
        CpuFloats logPx;
        CpuFloats logRatio;
        CpuFloats bound;
        int samples;
        int batch;

        @Override
        void run(int from, int to, int worker) {
            for (int b = from; b < to; b++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < samples; k++) {
                    max = Math.max(max, weight(k * batch + b));
                }
                if (Double.isInfinite(max) || Double.isNaN(max)) {
                    bound.array[bound.offset + b] = (float) max;
                    continue;
                }
                double sum = 0;
                for (int k = 0; k < samples; k++) {
                    sum += Math.exp(weight(k * batch + b) - max);
                }
                bound.array[bound.offset + b] = (float) (max + Math.log(sum) - Math.log(samples));
            }
        }

        /** The log weight rounded to float32, as the kernels store it. */
        private float weight(int index) {
            return logPx.array[logPx.offset + index] + logRatio.array[logRatio.offset + index];
        }
    }

    // ------------------------------------------------------------------------------------------------ optimizer

    @Override
    public void gradientNorm(Floats gradients, StepState handle) {
        checkOpen();
        CpuStepState s = state(handle);
        CpuFloats g = floats(this, gradients, "gradients", 0);
        int blocks = (g.length + NORM_BLOCK - 1) / NORM_BLOCK;
        if (normPartials.length < blocks) {
            normPartials = new double[blocks];
        }
        NormTask task = normTask;
        task.g = g;
        task.partials = normPartials;
        pool.run(task, blocks, pool.chunkFor(blocks, 2, 1), g.length);
        double sum = 0;
        for (int i = 0; i < blocks; i++) {
            sum += normPartials[i];
        }
        task.g = null;
        s.gradientNorm = (float) Math.sqrt(sum);
    }

    private static final class NormTask extends WorkerPool.RangeTask {
        CpuFloats g;
        double[] partials;

        @Override
        void run(int from, int to, int worker) {
            float[] a = g.array;
            for (int block = from; block < to; block++) {
                int start = g.offset + block * NORM_BLOCK;
                int end = g.offset + Math.min(g.length, (block + 1) * NORM_BLOCK);
                // Four running sums in a fixed interleaving: the same order every run, and four times the ILP.
                double s0 = 0;
                double s1 = 0;
                double s2 = 0;
                double s3 = 0;
                int i = start;
                for (; i + 3 < end; i += 4) {
                    double v0 = a[i];
                    double v1 = a[i + 1];
                    double v2 = a[i + 2];
                    double v3 = a[i + 3];
                    s0 += v0 * v0;
                    s1 += v1 * v1;
                    s2 += v2 * v2;
                    s3 += v3 * v3;
                }
                for (; i < end; i++) {
                    double v = a[i];
                    s0 += v * v;
                }
                partials[block] = (s0 + s1) + (s2 + s3);
            }
        }
    }

    @Override
    public void adam(AdamSettings settings, StepState handle, Floats parameters, Floats gradients,
                     Floats firstMoments, Floats secondMoments) {
        checkOpen();
        Objects.requireNonNull(settings, "settings");
        CpuStepState s = state(handle);
        CpuFloats p = floats(this, parameters, "parameters", 0);
        CpuFloats g = floats(this, gradients, "gradients", p.length);
        CpuFloats m = floats(this, firstMoments, "firstMoments", p.length);
        CpuFloats v = floats(this, secondMoments, "secondMoments", p.length);
        if (!Float.isFinite(s.loss) || !Float.isFinite(s.gradientNorm)) {
            s.skipped++;
            s.skippedInARow++;
            return;
        }
        long t = s.updates + 1;
        AdamTask task = adamTask;
        task.settings = settings;
        task.gradScale = dev.elbo4j.reference.Adam.clipScale(settings, s.gradientNorm);
        task.stepSize = (float) (settings.learningRate() / (1.0 - Math.pow(settings.beta1(), t)));
        task.inverseCorrection2Sqrt = (float) (1.0 / Math.sqrt(1.0 - Math.pow(settings.beta2(), t)));
        task.p = p;
        task.g = g;
        task.m = m;
        task.v = v;
        pool.run(task, p.length, FLAT_CHUNK, 4L * p.length);
        task.p = task.g = task.m = task.v = null;
        s.updates = t;
        s.skippedInARow = 0;
    }

    private static final class AdamTask extends WorkerPool.RangeTask {
        AdamSettings settings;
        float gradScale;
        float stepSize;
        float inverseCorrection2Sqrt;
        CpuFloats p;
        CpuFloats g;
        CpuFloats m;
        CpuFloats v;

        @Override
        void run(int from, int to, int worker) {
            float beta1 = settings.beta1();
            float beta2 = settings.beta2();
            float oneMinusBeta1 = 1f - beta1;
            float oneMinusBeta2 = 1f - beta2;
            float epsilon = settings.epsilon();
            float scale = gradScale;
            float step = stepSize;
            float inverse = inverseCorrection2Sqrt;
            float l2 = settings.decoupledWeightDecay() ? 0f : settings.weightDecay();
            float decay = settings.decoupledWeightDecay() ? 1f - settings.learningRate() * settings.weightDecay() : 1f;
            float[] pa = p.array;
            float[] ga = g.array;
            float[] ma = m.array;
            float[] va = v.array;
            int base = p.offset;
            if (g.offset != base || m.offset != base || v.offset != base) {
                // Views at different offsets (not the model's flat buffers): the plain loop.
                for (int i = from; i < to; i++) {
                    float param = pa[base + i];
                    float grad = scale * ga[g.offset + i] + l2 * param;
                    float first = beta1 * ma[m.offset + i] + oneMinusBeta1 * grad;
                    float second = beta2 * va[v.offset + i] + oneMinusBeta2 * grad * grad;
                    ma[m.offset + i] = first;
                    va[v.offset + i] = second;
                    pa[base + i] = param * decay - step * first / ((float) Math.sqrt(second) * inverse + epsilon);
                }
                return;
            }
            // One index for all four arrays, so that C2 vectorizes (see BiasActivationTask).
            for (int i = base + from; i < base + to; i++) {
                float param = pa[i];
                float grad = scale * ga[i] + l2 * param;
                float first = beta1 * ma[i] + oneMinusBeta1 * grad;
                float second = beta2 * va[i] + oneMinusBeta2 * grad * grad;
                ma[i] = first;
                va[i] = second;
                pa[i] = param * decay - step * first / ((float) Math.sqrt(second) * inverse + epsilon);
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ checks

    private static void positive(int value, String name) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " must be at least 1 but is " + value);
        }
    }

    private static void finite(float value, String name) {
        if (!Float.isFinite(value)) {
            throw new IllegalArgumentException(name + " must be finite but is " + value);
        }
    }
}
