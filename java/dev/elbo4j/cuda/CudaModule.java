package dev.elbo4j.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A loaded module (PTX, cubin or fatbin) and its kernels. Created by {@link CudaContext#loadModule} or
 * {@link CudaContext#kernels()}. {@link #close()} unloads it; its {@link CudaFunction}s then become unusable.
 */
public final class CudaModule extends ContextResource {
    /** Bytes for each of the JIT's error and info logs. */
    private static final int JIT_LOG_BYTES = 16 * 1024;

    private final DriverApi driver;
    private final long handle;
    private final String description;
    private final Map<String, CudaFunction> functions = new ConcurrentHashMap<>();

    private CudaModule(CudaContext context, long handle, String description) {
        super(context);
        this.driver = context.driver();
        this.handle = handle;
        this.description = description;
    }

    /**
     * Loads an image with cuModuleLoadDataEx, collecting the JIT's logs; the context is current. The image is
     * copied off-heap with a terminating NUL, which PTX text needs and binary images ignore.
     */
    static CudaModule load(CudaContext context, byte[] image, String description) {
        DriverApi driver = context.driver();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment imageCopy = arena.allocate(image.length + 1L, Long.BYTES);
            MemorySegment.copy(image, 0, imageCopy, JAVA_BYTE, 0, image.length);
            MemorySegment errorLog = arena.allocate(JIT_LOG_BYTES);
            MemorySegment infoLog = arena.allocate(JIT_LOG_BYTES);
            // Options are CUjit_option values; each value slot is a pointer-sized word (sizes go in by value).
            int[] optionIds = {
                DriverApi.CU_JIT_ERROR_LOG_BUFFER, DriverApi.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                DriverApi.CU_JIT_INFO_LOG_BUFFER, DriverApi.CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
            };
            MemorySegment options = arena.allocateFrom(JAVA_INT, optionIds);
            MemorySegment values = arena.allocate(ADDRESS, optionIds.length);
            values.setAtIndex(ADDRESS, 0, errorLog);
            values.setAtIndex(JAVA_LONG, 1, JIT_LOG_BYTES);
            values.setAtIndex(ADDRESS, 2, infoLog);
            values.setAtIndex(JAVA_LONG, 3, JIT_LOG_BYTES);
            MemorySegment module = arena.allocate(JAVA_LONG);
            int result = driver.moduleLoadDataEx(module, imageCopy, optionIds.length, options, values);
            if (result != DriverApi.CUDA_SUCCESS) {
                throw driver.error(result, "cuModuleLoadDataEx", "loading " + description + "; JIT error log: "
                        + logText(errorLog) + jitInfo(infoLog));
            }
            return new CudaModule(context, module.get(JAVA_LONG, 0), description);
        }
    }

    private static String logText(MemorySegment log) {
        log.set(JAVA_BYTE, log.byteSize() - 1, (byte) 0); // the driver may fill the buffer without a terminator
        String text = log.getString(0).strip();
        return text.isEmpty() ? "(empty)" : text;
    }

    private static String jitInfo(MemorySegment infoLog) {
        String info = logText(infoLog);
        return info.equals("(empty)") ? "" : "; JIT info log: " + info;
    }

    /**
     * The kernel named {@code name} (its {@code extern "C"} name, e.g. {@code elbo4j_fill_f32}) with the parameters
     * its signature declares, in order; looked up once and cached. For
     * {@code extern "C" __global__ void elbo4j_fill_f32(float* out, float value, long long n)}:
     * <pre>{@code module.function("elbo4j_fill_f32", POINTER, FLOAT, LONG)}</pre>
     *
     * @throws CudaException            naming the kernel and the module when the module has no such kernel
     * @throws IllegalArgumentException when the declaration does not match the kernel's parameter count or sizes
     *                                  (as far as the driver reports them), or differs from an earlier declaration
     *                                  of the same kernel
     */
    public CudaFunction function(String name, KernelParameter... parameters) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(parameters, "parameters");
        List<KernelParameter> declared = List.of(parameters);
        checkOpen();
        CudaFunction cached = functions.get(name);
        if (cached == null) {
            context.ensureCurrent();
            long function;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment out = arena.allocate(JAVA_LONG);
                driver.check(driver.moduleGetFunction(out, handle, arena.allocateFrom(name)), "cuModuleGetFunction",
                        "kernel '" + name + "' in " + description);
                function = out.get(JAVA_LONG, 0);
            }
            CudaFunction inspected = CudaFunction.inspect(this, name, function, declared);
            CudaFunction raced = functions.putIfAbsent(name, inspected);
            cached = raced != null ? raced : inspected;
        }
        if (!cached.parameters().equals(declared)) {
            throw new IllegalArgumentException("kernel " + name + " is already bound with parameters "
                    + cached.parameters() + ", not " + declared);
        }
        return cached;
    }

    /** The context that owns this module. */
    public CudaContext context() {
        return context;
    }

    /** Unloads the module; its functions become unusable. */
    @Override
    void release() {
        driver.check(driver.moduleUnload(handle), "cuModuleUnload", description);
    }

    @Override
    String identity() {
        return description;
    }

    @Override
    void checkOpen() {
        super.checkOpen();
        context.checkOpen();
    }
}
