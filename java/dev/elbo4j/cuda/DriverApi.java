package dev.elbo4j.cuda;

import static dev.elbo4j.cuda.Downcalls.unexpected;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * The CUDA driver API functions elbo4j calls, bound with FFM downcall handles on the symbols of one loaded
 * library. All FFM plumbing for the driver lives here; the public classes call these thin wrappers, which
 * return the raw {@code CUresult}, and turn failures into exceptions with {@link #check}.
 *
 * <p>Symbols are the ones cuda.h maps the API names to ({@code cuMemAlloc} is {@code cuMemAlloc_v2}, ...).
 * Opaque handles (CUcontext, CUstream, CUevent, CUmodule, CUfunction, CUgraph, CUgraphExec) and device
 * pointers travel as 64-bit integers: on the LP64 ABIs the driver ships for, a pointer argument and a 64-bit
 * integer argument are passed the same way, and a {@code long} needs no MemorySegment wrapper per call.
 */
// FFM restricted method: the error texts' addresses are reinterpreted to read the C strings.
@SuppressWarnings("restricted")
final class DriverApi {
    static final int CUDA_SUCCESS = 0;
    static final int CUDA_ERROR_INVALID_VALUE = 1;

    static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    static final int CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0;
    static final int CU_JIT_INFO_LOG_BUFFER = 3;
    static final int CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
    static final int CU_JIT_ERROR_LOG_BUFFER = 5;
    static final int CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
    /** Streams elbo4j creates synchronize with the legacy default stream (flag CU_STREAM_DEFAULT). */
    static final int CU_STREAM_DEFAULT = 0;
    static final int CU_EVENT_DEFAULT = 0;
    /** Capture refuses unsafe calls (synchronous copies, allocation) made by the capturing thread only. */
    static final int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
    static final int CU_STREAM_CAPTURE_STATUS_NONE = 0;

    private static final MemoryLayout HANDLE = JAVA_LONG;
    private static final MemoryLayout SIZE_T = JAVA_LONG;
    private static final MemoryLayout DEVICE_POINTER = JAVA_LONG;

    private final MethodHandle cuInit;
    private final MethodHandle cuDriverGetVersion;
    private final MethodHandle cuGetErrorName;
    private final MethodHandle cuGetErrorString;
    private final MethodHandle cuDeviceGetCount;
    private final MethodHandle cuDeviceGet;
    private final MethodHandle cuDeviceGetName;
    private final MethodHandle cuDeviceGetAttribute;
    private final MethodHandle cuDeviceTotalMem;
    private final MethodHandle cuDevicePrimaryCtxRetain;
    private final MethodHandle cuDevicePrimaryCtxRelease;
    private final MethodHandle cuCtxSetCurrent;
    private final MethodHandle cuCtxGetCurrent;
    private final MethodHandle cuCtxSynchronize;
    private final MethodHandle cuMemGetInfo;
    private final MethodHandle cuMemAlloc;
    private final MethodHandle cuMemFree;
    private final MethodHandle cuMemAllocHost;
    private final MethodHandle cuMemFreeHost;
    private final MethodHandle cuMemcpyHtoD;
    private final MethodHandle cuMemcpyDtoH;
    private final MethodHandle cuMemcpyDtoD;
    private final MethodHandle cuMemcpyHtoDAsync;
    private final MethodHandle cuMemcpyDtoHAsync;
    private final MethodHandle cuMemcpyDtoDAsync;
    private final MethodHandle cuMemsetD8;
    private final MethodHandle cuMemsetD32;
    private final MethodHandle cuMemsetD8Async;
    private final MethodHandle cuMemsetD32Async;
    private final MethodHandle cuStreamCreate;
    private final MethodHandle cuStreamDestroy;
    private final MethodHandle cuStreamSynchronize;
    private final MethodHandle cuStreamBeginCapture;
    private final MethodHandle cuStreamEndCapture;
    private final MethodHandle cuStreamIsCapturing;
    private final MethodHandle cuEventCreate;
    private final MethodHandle cuEventDestroy;
    private final MethodHandle cuEventRecord;
    private final MethodHandle cuEventSynchronize;
    private final MethodHandle cuEventElapsedTime;
    private final MethodHandle cuModuleLoadDataEx;
    private final MethodHandle cuModuleUnload;
    private final MethodHandle cuModuleGetFunction;
    private final MethodHandle cuFuncGetAttribute;
    private final MethodHandle cuFuncGetParamInfo;
    private final MethodHandle cuLaunchKernel;
    private final MethodHandle cuGraphInstantiate;
    private final MethodHandle cuGraphLaunch;
    private final MethodHandle cuGraphExecDestroy;
    private final MethodHandle cuGraphDestroy;

    /** A thread's 16-byte out-parameter slot for the calls made on every operation (context check, launch). */
    private static final ThreadLocal<MemorySegment> THREAD_SLOT =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(16, 8));

    /**
     * Binds every symbol; throws {@link CudaUnavailableException} naming all missing required symbols at once.
     *
     * @param symbols the loaded library
     * @param library how it was found, for messages
     */
    DriverApi(SymbolLookup symbols, String library) {
        Downcalls bind = new Downcalls(symbols, library);
        cuInit = bind.required("cuInit", JAVA_INT);
        cuDriverGetVersion = bind.required("cuDriverGetVersion", ADDRESS);
        cuGetErrorName = bind.required("cuGetErrorName", JAVA_INT, ADDRESS);
        cuGetErrorString = bind.required("cuGetErrorString", JAVA_INT, ADDRESS);
        cuDeviceGetCount = bind.required("cuDeviceGetCount", ADDRESS);
        cuDeviceGet = bind.required("cuDeviceGet", ADDRESS, JAVA_INT);
        cuDeviceGetName = bind.required("cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceGetAttribute = bind.required("cuDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceTotalMem = bind.required("cuDeviceTotalMem_v2", ADDRESS, JAVA_INT);
        cuDevicePrimaryCtxRetain = bind.required("cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
        cuDevicePrimaryCtxRelease = bind.required("cuDevicePrimaryCtxRelease_v2", JAVA_INT);
        cuCtxSetCurrent = bind.required("cuCtxSetCurrent", HANDLE);
        cuCtxGetCurrent = bind.required("cuCtxGetCurrent", ADDRESS);
        cuCtxSynchronize = bind.required("cuCtxSynchronize");
        cuMemGetInfo = bind.required("cuMemGetInfo_v2", ADDRESS, ADDRESS);
        cuMemAlloc = bind.required("cuMemAlloc_v2", ADDRESS, SIZE_T);
        cuMemFree = bind.required("cuMemFree_v2", DEVICE_POINTER);
        cuMemAllocHost = bind.required("cuMemAllocHost_v2", ADDRESS, SIZE_T);
        cuMemFreeHost = bind.required("cuMemFreeHost", ADDRESS);
        cuMemcpyHtoD = bind.required("cuMemcpyHtoD_v2", DEVICE_POINTER, ADDRESS, SIZE_T);
        cuMemcpyDtoH = bind.required("cuMemcpyDtoH_v2", ADDRESS, DEVICE_POINTER, SIZE_T);
        cuMemcpyDtoD = bind.required("cuMemcpyDtoD_v2", DEVICE_POINTER, DEVICE_POINTER, SIZE_T);
        cuMemcpyHtoDAsync = bind.required("cuMemcpyHtoDAsync_v2", DEVICE_POINTER, ADDRESS, SIZE_T, HANDLE);
        cuMemcpyDtoHAsync = bind.required("cuMemcpyDtoHAsync_v2", ADDRESS, DEVICE_POINTER, SIZE_T, HANDLE);
        cuMemcpyDtoDAsync = bind.required("cuMemcpyDtoDAsync_v2", DEVICE_POINTER, DEVICE_POINTER, SIZE_T, HANDLE);
        cuMemsetD8 = bind.required("cuMemsetD8_v2", DEVICE_POINTER, JAVA_BYTE, SIZE_T);
        cuMemsetD32 = bind.required("cuMemsetD32_v2", DEVICE_POINTER, JAVA_INT, SIZE_T);
        cuMemsetD8Async = bind.required("cuMemsetD8Async", DEVICE_POINTER, JAVA_BYTE, SIZE_T, HANDLE);
        cuMemsetD32Async = bind.required("cuMemsetD32Async", DEVICE_POINTER, JAVA_INT, SIZE_T, HANDLE);
        cuStreamCreate = bind.required("cuStreamCreate", ADDRESS, JAVA_INT);
        cuStreamDestroy = bind.required("cuStreamDestroy_v2", HANDLE);
        cuStreamSynchronize = bind.required("cuStreamSynchronize", HANDLE);
        cuStreamBeginCapture = bind.required("cuStreamBeginCapture_v2", HANDLE, JAVA_INT);
        cuStreamEndCapture = bind.required("cuStreamEndCapture", HANDLE, ADDRESS);
        cuStreamIsCapturing = bind.required("cuStreamIsCapturing", HANDLE, ADDRESS);
        cuEventCreate = bind.required("cuEventCreate", ADDRESS, JAVA_INT);
        cuEventDestroy = bind.required("cuEventDestroy_v2", HANDLE);
        cuEventRecord = bind.required("cuEventRecord", HANDLE, HANDLE);
        cuEventSynchronize = bind.required("cuEventSynchronize", HANDLE);
        // The symbol cuda.h maps cuEventElapsedTime to since CUDA 12.8.
        cuEventElapsedTime = bind.required("cuEventElapsedTime_v2", ADDRESS, HANDLE, HANDLE);
        cuModuleLoadDataEx = bind.required("cuModuleLoadDataEx", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        cuModuleUnload = bind.required("cuModuleUnload", HANDLE);
        cuModuleGetFunction = bind.required("cuModuleGetFunction", ADDRESS, HANDLE, ADDRESS);
        cuFuncGetAttribute = bind.required("cuFuncGetAttribute", ADDRESS, JAVA_INT, HANDLE);
        cuFuncGetParamInfo = bind.required("cuFuncGetParamInfo", HANDLE, SIZE_T, ADDRESS, ADDRESS);
        cuLaunchKernel = bind.required("cuLaunchKernel", HANDLE, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, HANDLE, ADDRESS, ADDRESS);
        cuGraphInstantiate = bind.required("cuGraphInstantiateWithFlags", ADDRESS, HANDLE, JAVA_LONG);
        cuGraphLaunch = bind.required("cuGraphLaunch", HANDLE, HANDLE);
        cuGraphExecDestroy = bind.required("cuGraphExecDestroy", HANDLE);
        cuGraphDestroy = bind.required("cuGraphDestroy", HANDLE);
        bind.requireAllFound("the CUDA driver library lacks functions elbo4j needs",
                "elbo4j needs a driver for CUDA 13.0 or newer (NVIDIA R580 or later).");
    }

    /** A per-thread out-parameter slot (16 bytes, 8-aligned) for calls on hot paths; valid until the next use. */
    static MemorySegment threadSlot() {
        return THREAD_SLOT.get();
    }

    // ---- errors ------------------------------------------------------------------------------------------

    /** Throws a {@link CudaException} for a non-success result. */
    void check(int result, String call) {
        if (result != CUDA_SUCCESS) {
            throw error(result, call, "");
        }
    }

    /** Throws a {@link CudaException} for a non-success result, with what elbo4j knows about the call. */
    void check(int result, String call, String detail) {
        if (result != CUDA_SUCCESS) {
            throw error(result, call, detail);
        }
    }

    CudaException error(int result, String call, String detail) {
        return new CudaException(call, result, resultName(result), resultText(result), detail);
    }

    /** The CUresult enum name from cuGetErrorName, e.g. CUDA_ERROR_INVALID_VALUE. */
    String resultName(int result) {
        return describeResult(cuGetErrorName, result).orElse("CUDA_ERROR_UNRECOGNIZED_" + result);
    }

    /** The driver's description from cuGetErrorString. */
    String resultText(int result) {
        return describeResult(cuGetErrorString, result).orElse("the driver does not recognize this result code");
    }

    private static Optional<String> describeResult(MethodHandle function, int result) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment text = arena.allocate(ADDRESS);
            int status = (int) function.invokeExact(result, text);
            MemorySegment pointer = text.get(ADDRESS, 0);
            if (status != CUDA_SUCCESS || pointer.equals(MemorySegment.NULL)) {
                return Optional.empty();
            }
            return Optional.of(pointer.reinterpret(Long.MAX_VALUE).getString(0));
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // ---- initialization and devices ----------------------------------------------------------------------

    int init(int flags) {
        try {
            return (int) cuInit.invokeExact(flags);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int driverGetVersion(MemorySegment version) {
        try {
            return (int) cuDriverGetVersion.invokeExact(version);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int deviceGetCount(MemorySegment count) {
        try {
            return (int) cuDeviceGetCount.invokeExact(count);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int deviceGet(MemorySegment device, int ordinal) {
        try {
            return (int) cuDeviceGet.invokeExact(device, ordinal);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int deviceGetName(MemorySegment name, int length, int device) {
        try {
            return (int) cuDeviceGetName.invokeExact(name, length, device);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int deviceGetAttribute(MemorySegment value, int attribute, int device) {
        try {
            return (int) cuDeviceGetAttribute.invokeExact(value, attribute, device);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int deviceTotalMem(MemorySegment bytes, int device) {
        try {
            return (int) cuDeviceTotalMem.invokeExact(bytes, device);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // ---- contexts ----------------------------------------------------------------------------------------

    int devicePrimaryCtxRetain(MemorySegment context, int device) {
        try {
            return (int) cuDevicePrimaryCtxRetain.invokeExact(context, device);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int devicePrimaryCtxRelease(int device) {
        try {
            return (int) cuDevicePrimaryCtxRelease.invokeExact(device);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int ctxSetCurrent(long context) {
        try {
            return (int) cuCtxSetCurrent.invokeExact(context);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int ctxGetCurrent(MemorySegment context) {
        try {
            return (int) cuCtxGetCurrent.invokeExact(context);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int ctxSynchronize() {
        try {
            return (int) cuCtxSynchronize.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // ---- memory ------------------------------------------------------------------------------------------

    int memGetInfo(MemorySegment free, MemorySegment total) {
        try {
            return (int) cuMemGetInfo.invokeExact(free, total);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int memAlloc(MemorySegment pointer, long bytes) {
        try {
            return (int) cuMemAlloc.invokeExact(pointer, bytes);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int memFree(long pointer) {
        try {
            return (int) cuMemFree.invokeExact(pointer);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int memAllocHost(MemorySegment pointer, long bytes) {
        try {
            return (int) cuMemAllocHost.invokeExact(pointer, bytes);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int memFreeHost(MemorySegment pointer) {
        try {
            return (int) cuMemFreeHost.invokeExact(pointer);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int memcpyHtoD(long destination, MemorySegment source, long bytes) {
        try {
            return (int) cuMemcpyHtoD.invokeExact(destination, source, bytes);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int memcpyDtoH(MemorySegment destination, long source, long bytes) {
        try {
            return (int) cuMemcpyDtoH.invokeExact(destination, source, bytes);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int memcpyDtoD(long destination, long source, long bytes) {
        try {
            return (int) cuMemcpyDtoD.invokeExact(destination, source, bytes);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int memcpyHtoDAsync(long destination, MemorySegment source, long bytes, long stream) {
        try {
            return (int) cuMemcpyHtoDAsync.invokeExact(destination, source, bytes, stream);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int memcpyDtoHAsync(MemorySegment destination, long source, long bytes, long stream) {
        try {
            return (int) cuMemcpyDtoHAsync.invokeExact(destination, source, bytes, stream);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int memcpyDtoDAsync(long destination, long source, long bytes, long stream) {
        try {
            return (int) cuMemcpyDtoDAsync.invokeExact(destination, source, bytes, stream);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int memsetD8(long destination, byte value, long count) {
        try {
            return (int) cuMemsetD8.invokeExact(destination, value, count);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int memsetD32(long destination, int value, long count) {
        try {
            return (int) cuMemsetD32.invokeExact(destination, value, count);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int memsetD8Async(long destination, byte value, long count, long stream) {
        try {
            return (int) cuMemsetD8Async.invokeExact(destination, value, count, stream);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int memsetD32Async(long destination, int value, long count, long stream) {
        try {
            return (int) cuMemsetD32Async.invokeExact(destination, value, count, stream);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // ---- streams, events, graphs -------------------------------------------------------------------------

    int streamCreate(MemorySegment stream, int flags) {
        try {
            return (int) cuStreamCreate.invokeExact(stream, flags);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int streamDestroy(long stream) {
        try {
            return (int) cuStreamDestroy.invokeExact(stream);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int streamSynchronize(long stream) {
        try {
            return (int) cuStreamSynchronize.invokeExact(stream);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int streamBeginCapture(long stream, int mode) {
        try {
            return (int) cuStreamBeginCapture.invokeExact(stream, mode);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int streamEndCapture(long stream, MemorySegment graph) {
        try {
            return (int) cuStreamEndCapture.invokeExact(stream, graph);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int streamIsCapturing(long stream, MemorySegment status) {
        try {
            return (int) cuStreamIsCapturing.invokeExact(stream, status);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int eventCreate(MemorySegment event, int flags) {
        try {
            return (int) cuEventCreate.invokeExact(event, flags);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int eventDestroy(long event) {
        try {
            return (int) cuEventDestroy.invokeExact(event);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int eventRecord(long event, long stream) {
        try {
            return (int) cuEventRecord.invokeExact(event, stream);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int eventSynchronize(long event) {
        try {
            return (int) cuEventSynchronize.invokeExact(event);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int eventElapsedTime(MemorySegment milliseconds, long start, long end) {
        try {
            return (int) cuEventElapsedTime.invokeExact(milliseconds, start, end);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int graphInstantiate(MemorySegment graphExec, long graph, long flags) {
        try {
            return (int) cuGraphInstantiate.invokeExact(graphExec, graph, flags);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int graphLaunch(long graphExec, long stream) {
        try {
            return (int) cuGraphLaunch.invokeExact(graphExec, stream);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int graphExecDestroy(long graphExec) {
        try {
            return (int) cuGraphExecDestroy.invokeExact(graphExec);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int graphDestroy(long graph) {
        try {
            return (int) cuGraphDestroy.invokeExact(graph);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    // ---- modules and kernels -----------------------------------------------------------------------------

    int moduleLoadDataEx(MemorySegment module, MemorySegment image, int optionCount, MemorySegment options,
                         MemorySegment optionValues) {
        try {
            return (int) cuModuleLoadDataEx.invokeExact(module, image, optionCount, options, optionValues);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int moduleUnload(long module) {
        try {
            return (int) cuModuleUnload.invokeExact(module);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int moduleGetFunction(MemorySegment function, long module, MemorySegment name) {
        try {
            return (int) cuModuleGetFunction.invokeExact(function, module, name);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int funcGetAttribute(MemorySegment value, int attribute, long function) {
        try {
            return (int) cuFuncGetAttribute.invokeExact(value, attribute, function);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int funcGetParamInfo(long function, long index, MemorySegment offset, MemorySegment size) {
        try {
            return (int) cuFuncGetParamInfo.invokeExact(function, index, offset, size);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int launchKernel(long function, int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ,
                     int sharedMemoryBytes, long stream, MemorySegment parameters) {
        try {
            return (int) cuLaunchKernel.invokeExact(function, gridX, gridY, gridZ, blockX, blockY, blockZ,
                    sharedMemoryBytes, stream, parameters, MemorySegment.NULL);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }
}
