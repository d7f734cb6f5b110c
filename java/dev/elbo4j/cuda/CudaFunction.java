package dev.elbo4j.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A kernel of a {@link CudaModule}, bound with its declared parameters ({@link KernelParameter}) and launched
 * with typed Java arguments.
 *
 * <h2>Arguments</h2>
 * Each argument must be what its declared parameter takes: a {@link DeviceBuffer} for a {@link KernelParameter#POINTER}
 * (or {@code null} for a {@link KernelParameter#NULLABLE_POINTER}), an {@link Integer}, {@link Long},
 * {@link Float} or {@link Double} for the scalars. A number is never accepted for a pointer, so no launch can hand
 * the kernel an address that is not the start of (or a view into) an open buffer of the kernel's context. When the
 * function is bound, the declaration is checked against the kernel's parameter count and sizes as the driver reports
 * them (cuFuncGetParamInfo); each launch checks the block against the kernel's thread limit.
 *
 * <h2>Launches and closes</h2>
 * A launch holds the module, the stream and every buffer argument in use from its checks until the driver has
 * enqueued the kernel: a buffer closed on another thread is either freed after the launch is enqueued (and after the
 * kernel ran, see {@link DeviceBuffer}) or refused by the launch with {@link IllegalStateException}.
 */
public final class CudaFunction {
    /** More parameters than a kernel can have (the parameter space is at most 32764 bytes). */
    private static final int PARAMETER_LIMIT = 32_768;

    private final CudaModule module;
    private final CudaContext context;
    private final DriverApi driver;
    private final String name;
    private final long handle;
    private final List<KernelParameter> parameters;
    private final int maxThreadsPerBlock;

    private CudaFunction(CudaModule module, String name, long handle, List<KernelParameter> parameters,
                         int maxThreadsPerBlock) {
        this.module = module;
        this.context = module.context();
        this.driver = context.driver();
        this.name = name;
        this.handle = handle;
        this.parameters = parameters;
        this.maxThreadsPerBlock = maxThreadsPerBlock;
    }

    /**
     * Reads the kernel's thread limit and parameter layout once and checks the declared parameters against it;
     * the context is current.
     *
     * @throws IllegalArgumentException when the declaration's count or a size differs from the kernel's
     */
    static CudaFunction inspect(CudaModule module, String name, long handle, List<KernelParameter> declared) {
        DriverApi driver = module.context().driver();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment value = arena.allocate(JAVA_INT);
            driver.check(driver.funcGetAttribute(value, DriverApi.CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, handle),
                    "cuFuncGetAttribute", "CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK of kernel " + name);
            int maxThreads = value.get(JAVA_INT, 0);
            checkDeclaration(name, declared, parameterSizes(driver, name, handle, arena));
            return new CudaFunction(module, name, handle, declared, maxThreads);
        }
    }

    /** The byte size of each of the kernel's parameters, as the driver reports them. */
    private static long[] parameterSizes(DriverApi driver, String name, long handle, Arena arena) {
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
        return Arrays.copyOf(found, count);
    }

    private static void checkDeclaration(String name, List<KernelParameter> declared, long[] sizes) {
        if (declared.size() != sizes.length) {
            throw new IllegalArgumentException("kernel " + name + " has " + sizes.length + " parameters, but "
                    + declared.size() + " were declared: " + declared);
        }
        for (int i = 0; i < sizes.length; i++) {
            if (declared.get(i).bytes() != sizes[i]) {
                throw new IllegalArgumentException("kernel " + name + ": parameter " + i + " (counting from 0) is "
                        + sizes[i] + " bytes, but was declared " + declared.get(i) + " (" + declared.get(i).bytes()
                        + " bytes)");
            }
        }
    }

    /** The kernel's name, e.g. {@code elbo4j_fill_f32}. */
    public String name() {
        return name;
    }

    /** The declared parameters, in order. */
    public List<KernelParameter> parameters() {
        return parameters;
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
     * @throws IllegalArgumentException when the arguments do not match the declared parameters (count or type, a
     *                                  number for a pointer, a buffer of another context) or the block has more
     *                                  threads than {@link #maxThreadsPerBlock()}
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
        context.streamHandle(stream);
        if (block.volume() > maxThreadsPerBlock) {
            throw new IllegalArgumentException("kernel " + name + ": a block of " + block + " = " + block.volume()
                    + " threads exceeds the kernel's limit of " + maxThreadsPerBlock + " threads per block");
        }
        if (args.length != parameters.size()) {
            throw new IllegalArgumentException("kernel " + name + " takes " + parameters.size() + " arguments "
                    + parameters + ", got " + args.length);
        }
        LaunchScratch scratch = LaunchScratch.forThread(args.length);
        for (int i = 0; i < args.length; i++) {
            check(i, args[i]);
        }
        long streamHandle = context.enterStream(stream);
        int held = 0;
        try {
            module.enter();
            scratch.held()[held++] = module;
            for (int i = 0; i < args.length; i++) {
                if (args[i] instanceof DeviceBuffer buffer) {
                    buffer.enter();
                    scratch.held()[held++] = buffer;
                }
                pack(scratch.values(), i, args[i]);
            }
            context.ensureCurrent();
            int result = driver.launchKernel(handle, grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(),
                    0, streamHandle, scratch.pointers());
            if (result != DriverApi.CUDA_SUCCESS) {
                throw driver.error(result, "cuLaunchKernel", "kernel " + name + ", grid " + grid + ", block " + block);
            }
        } finally {
            for (int h = 0; h < held; h++) {
                scratch.held()[h].exit();
                scratch.held()[h] = null;
            }
            CudaContext.exitStream(stream);
        }
        context.launched(this);
        if (stream != null) {
            stream.launched(this);
        }
    }

    /** Checks argument {@code index} against its declared parameter. */
    private void check(int index, Object argument) {
        KernelParameter parameter = parameters.get(index);
        boolean matches = switch (parameter) {
            case POINTER -> argument instanceof DeviceBuffer;
            case NULLABLE_POINTER -> argument == null || argument instanceof DeviceBuffer;
            case INT -> argument instanceof Integer;
            case LONG -> argument instanceof Long;
            case FLOAT -> argument instanceof Float;
            case DOUBLE -> argument instanceof Double;
        };
        if (!matches) {
            String given = argument == null ? "null" : "a " + argument.getClass().getSimpleName();
            throw new IllegalArgumentException("kernel " + name + ": argument " + index + " (counting from 0) is "
                    + given + ", but parameter " + index + " is declared " + parameter + " and takes "
                    + parameter.javaType() + (parameter.isPointer() && argument != null
                    ? " (a device pointer is only ever taken from a buffer, never from a number)" : ""));
        }
        if (argument instanceof DeviceBuffer buffer) {
            // A pointer of another context (another device, without peer access) would fault in the kernel.
            context.checkSameContext(buffer.context(), "kernel " + name + ": argument " + index + " (" + buffer + ")");
        }
    }

    /** Writes argument {@code index} (already checked) into its 8-byte slot. */
    private static void pack(MemorySegment slots, int index, Object argument) {
        long offset = (long) index * LaunchScratch.SLOT_BYTES;
        switch (argument) {
            case null -> slots.set(JAVA_LONG, offset, 0L);
            case DeviceBuffer buffer -> slots.set(JAVA_LONG, offset, buffer.address());
            case Integer value -> slots.set(JAVA_INT, offset, value);
            case Long value -> slots.set(JAVA_LONG, offset, value);
            case Float value -> slots.set(JAVA_FLOAT, offset, value);
            case Double value -> slots.set(JAVA_DOUBLE, offset, value);
            default -> throw new AssertionError("checked before packing: " + argument.getClass());
        }
    }

    @Override
    public String toString() {
        return "CudaFunction(" + name + ")";
    }

    /**
     * A thread's launch argument block, reused across launches (the driver copies the arguments during
     * cuLaunchKernel): one 8-byte value slot per argument and the array of pointers to the slots that
     * cuLaunchKernel takes, written once when the block is allocated; and the resources a launch holds in use.
     */
    private record LaunchScratch(MemorySegment pointers, MemorySegment values, ContextResource[] held, int capacity) {
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
            // The module and one per argument.
            return new LaunchScratch(pointers, values, new ContextResource[capacity + 1], capacity);
        }
    }
}
