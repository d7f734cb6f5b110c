package dev.elbo4j.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * A kernel of a {@link CudaModule}, launched with typed Java arguments.
 *
 * <h2>Arguments</h2>
 * Each argument is packed by its Java type: {@link DeviceBuffer} as its device pointer (8 bytes),
 * {@link Integer} as int32, {@link Long} as int64, {@link Float} as float32, {@link Double} as float64.
 * Before anything reaches the driver, the count and each size are checked against the kernel's parameters
 * (when the driver reports them: cuFuncGetParamInfo, driver 12.4+), the block against the kernel's
 * thread limit, and every buffer for being open.
 */
public final class CudaFunction {
    /** More parameters than a kernel can have (the parameter space is at most 32764 bytes). */
    private static final int PARAMETER_LIMIT = 32_768;

    private final CudaModule module;
    private final CudaContext context;
    private final DriverApi driver;
    private final String name;
    private final long handle;
    /** Byte size of each parameter, or null when the driver cannot tell (before 12.4). */
    private final long[] parameterSizes;
    private final int maxThreadsPerBlock;

    private CudaFunction(CudaModule module, String name, long handle, long[] parameterSizes, int maxThreadsPerBlock) {
        this.module = module;
        this.context = module.context();
        this.driver = context.driver();
        this.name = name;
        this.handle = handle;
        this.parameterSizes = parameterSizes;
        this.maxThreadsPerBlock = maxThreadsPerBlock;
    }

    /** Reads the kernel's thread limit and parameter layout once; the context is current. */
    static CudaFunction inspect(CudaModule module, String name, long handle) {
        DriverApi driver = module.context().driver();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_INT);
            driver.check(driver.funcGetAttribute(value, DriverApi.CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, handle),
                    "cuFuncGetAttribute", "CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK of kernel " + name);
            int maxThreads = value.get(JAVA_INT, 0);
            long[] sizes = null;
            if (driver.hasParamInfo()) {
                MemorySegment offset = arena.allocate(JAVA_LONG);
                MemorySegment size = arena.allocate(JAVA_LONG);
                long[] found = new long[8];
                int count = 0;
                // The driver answers CUDA_ERROR_INVALID_VALUE for the first index past the last parameter.
                while (count < PARAMETER_LIMIT) {
                    int result = driver.funcGetParamInfo(handle, count, offset, size);
                    if (result == DriverApi.CUDA_ERROR_INVALID_VALUE) {
                        break;
                    }
                    driver.check(result, "cuFuncGetParamInfo", "parameter " + count + " of kernel " + name);
                    if (count == found.length) {
                        found = Arrays.copyOf(found, count * 2);
                    }
                    found[count++] = size.get(JAVA_LONG, 0);
                }
                sizes = Arrays.copyOf(found, count);
            }
            return new CudaFunction(module, name, handle, sizes, maxThreads);
        }
    }

    /** The kernel's name, e.g. {@code elbo4j_fill_f32}. */
    public String name() {
        return name;
    }

    /** Number of parameters, or -1 when the driver cannot tell (before 12.4: counts are then not checked). */
    public int parameterCount() {
        return parameterSizes == null ? -1 : parameterSizes.length;
    }

    /**
     * Size in bytes of parameter {@code index} (counting from 0).
     *
     * @throws IllegalStateException     when the driver cannot tell (before 12.4)
     * @throws IndexOutOfBoundsException when there is no such parameter
     */
    public long parameterSize(int index) {
        if (parameterSizes == null) {
            throw new IllegalStateException("the CUDA driver does not report kernel parameters "
                    + "(cuFuncGetParamInfo needs driver 12.4 or newer)");
        }
        Objects.checkIndex(index, parameterSizes.length);
        return parameterSizes[index];
    }

    /** The most threads a block of this kernel may have (the kernel's launch bounds and register use). */
    public int maxThreadsPerBlock() {
        return maxThreadsPerBlock;
    }

    /**
     * Launches the kernel with a one-dimensional grid and block.
     *
     * @see #launch(CudaStream, Dim3, Dim3, Object...)
     */
    public void launch(CudaStream stream, int gridX, int blockX, Object... args) {
        if (gridX < 1 || blockX < 1) {
            throw new IllegalArgumentException("kernel " + name + ": grid (" + gridX + ") and block (" + blockX
                    + ") sizes must be at least 1");
        }
        launch(stream, Dim3.of(gridX), Dim3.of(blockX), args);
    }

    /**
     * Enqueues the kernel on {@code stream} (null: the legacy default stream). Faults inside the kernel
     * surface at the next synchronization, which names the last kernel launched.
     *
     * @throws IllegalArgumentException when the arguments do not match the kernel's parameters (count, size or
     *                                  type) or the block has more threads than {@link #maxThreadsPerBlock()}
     * @throws IllegalStateException    when the module, a buffer argument, the stream or the context is closed
     * @throws CudaException            naming the kernel when the driver refuses the launch
     */
    public void launch(CudaStream stream, Dim3 grid, Dim3 block, Object... args) {
        Objects.requireNonNull(grid, "grid");
        Objects.requireNonNull(block, "block");
        if (args == null) {
            throw new IllegalArgumentException("kernel " + name + ": the argument array is null");
        }
        module.checkOpen();
        long streamHandle = context.streamHandle(stream);
        if (block.volume() > maxThreadsPerBlock) {
            throw new IllegalArgumentException("kernel " + name + ": a block of " + block + " = " + block.volume()
                    + " threads exceeds the kernel's limit of " + maxThreadsPerBlock + " threads per block");
        }
        if (parameterSizes != null && args.length != parameterSizes.length) {
            throw new IllegalArgumentException("kernel " + name + " takes " + parameterSizes.length
                    + " arguments, got " + args.length);
        }
        LaunchScratch scratch = LaunchScratch.forThread(args.length);
        for (int i = 0; i < args.length; i++) {
            pack(scratch.values(), i, args[i]);
        }
        context.ensureCurrent();
        int result = driver.launchKernel(handle, grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(),
                0, streamHandle, scratch.pointers());
        if (result != DriverApi.CUDA_SUCCESS) {
            throw driver.error(result, "cuLaunchKernel", "kernel " + name + ", grid " + grid + ", block " + block);
        }
        context.launched(this);
        if (stream != null) {
            stream.launched(this);
        }
    }

    /** Writes argument {@code index} into its 8-byte slot, checking its type and size. */
    private void pack(MemorySegment slots, int index, Object argument) {
        long offset = (long) index * LaunchScratch.SLOT_BYTES;
        switch (argument) {
            case DeviceBuffer buffer -> {
                checkSize(index, argument, Long.BYTES);
                // A pointer of another context (another device, without peer access) would fault in the kernel.
                if (buffer.context() != context) {
                    throw new IllegalArgumentException("kernel " + name + ": argument " + index + " (" + buffer
                            + ") belongs to another context than the kernel's module");
                }
                slots.set(JAVA_LONG, offset, buffer.address());
            }
            case Integer value -> {
                checkSize(index, argument, Integer.BYTES);
                slots.set(JAVA_INT, offset, value);
            }
            case Long value -> {
                checkSize(index, argument, Long.BYTES);
                slots.set(JAVA_LONG, offset, value);
            }
            case Float value -> {
                checkSize(index, argument, Float.BYTES);
                slots.set(JAVA_FLOAT, offset, value);
            }
            case Double value -> {
                checkSize(index, argument, Double.BYTES);
                slots.set(JAVA_DOUBLE, offset, value);
            }
            case null -> throw new IllegalArgumentException("kernel " + name + ": argument " + index + " is null");
            default -> throw new IllegalArgumentException("kernel " + name + ": argument " + index + " is a "
                    + argument.getClass().getName() + "; pass DeviceBuffer, Integer, Long, Float or Double");
        }
    }

    private void checkSize(int index, Object argument, int bytes) {
        if (parameterSizes != null && parameterSizes[index] != bytes) {
            throw new IllegalArgumentException("kernel " + name + ": argument " + index + " (counting from 0) is a "
                    + argument.getClass().getSimpleName() + " of " + bytes + " bytes, but parameter " + index
                    + " takes " + parameterSizes[index] + " bytes");
        }
    }

    @Override
    public String toString() {
        return "CudaFunction(" + name + ")";
    }

    /**
     * A thread's launch argument block, reused across launches (the driver copies the arguments during
     * cuLaunchKernel): one 8-byte value slot per argument and the array of pointers to the slots that
     * cuLaunchKernel takes, written once when the block is allocated.
     */
    private record LaunchScratch(MemorySegment pointers, MemorySegment values, int capacity) {
        static final int SLOT_BYTES = 8;
        private static final ThreadLocal<LaunchScratch> FOR_THREAD = new ThreadLocal<>();

        static LaunchScratch forThread(int arguments) {
            LaunchScratch scratch = FOR_THREAD.get();
            if (scratch == null || scratch.capacity < arguments) {
                scratch = allocate(Math.max(32, Integer.highestOneBit(Math.max(1, arguments)) << 1));
                FOR_THREAD.set(scratch);
            }
            return scratch;
        }

        private static LaunchScratch allocate(int capacity) {
            Arena arena = Arena.ofAuto();
            MemorySegment values = arena.allocate((long) capacity * SLOT_BYTES, SLOT_BYTES);
            MemorySegment pointers = arena.allocate(ADDRESS, capacity);
            for (int i = 0; i < capacity; i++) {
                pointers.setAtIndex(ADDRESS, i, values.asSlice((long) i * SLOT_BYTES, SLOT_BYTES));
            }
            return new LaunchScratch(pointers, values, capacity);
        }
    }
}
