package dev.elbo4j.cuda;

import static dev.elbo4j.cuda.Downcalls.unexpected;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.Map;

/**
 * The cuBLAS functions elbo4j calls, bound with FFM downcall handles (the {@code _v2} symbols that cublas_v2.h
 * maps the API names to). Like {@link DriverApi}, handles and device pointers travel as 64-bit integers.
 * Enum values below are those of cublas_api.h and library_types.h (CUDA 12 and 13).
 */
// FFM restricted method: the status text's address is reinterpreted to read the C string.
@SuppressWarnings("restricted")
final class CublasApi {
    static final int CUBLAS_STATUS_SUCCESS = 0;
    static final int CUBLAS_OP_N = 0;
    static final int CUBLAS_OP_T = 1;
    /** cudaDataType CUDA_R_32F. */
    static final int CUDA_R_32F = 0;
    /** cublasGemmAlgo_t CUBLAS_GEMM_DEFAULT: cuBLAS picks the algorithm. */
    static final int CUBLAS_GEMM_DEFAULT = -1;

    /** cublasStatus_t names (cublas_api.h); the values between are unused. */
    private static final Map<Integer, String> STATUS_NAMES = Map.of(
            0, "CUBLAS_STATUS_SUCCESS",
            1, "CUBLAS_STATUS_NOT_INITIALIZED",
            3, "CUBLAS_STATUS_ALLOC_FAILED",
            7, "CUBLAS_STATUS_INVALID_VALUE",
            8, "CUBLAS_STATUS_ARCH_MISMATCH",
            11, "CUBLAS_STATUS_MAPPING_ERROR",
            13, "CUBLAS_STATUS_EXECUTION_FAILED",
            14, "CUBLAS_STATUS_INTERNAL_ERROR",
            15, "CUBLAS_STATUS_NOT_SUPPORTED",
            16, "CUBLAS_STATUS_LICENSE_ERROR");

    private static final MemoryLayout HANDLE = JAVA_LONG;
    private static final MemoryLayout DEVICE_POINTER = JAVA_LONG;

    private final String library;
    private final MethodHandle cublasCreate;
    private final MethodHandle cublasDestroy;
    private final MethodHandle cublasSetStream;
    private final MethodHandle cublasSetMathMode;
    private final MethodHandle cublasGetVersion;
    private final MethodHandle cublasSgemm;
    private final MethodHandle cublasGemmEx;
    /** Null in cuBLAS builds without it (before 11.4): the status name alone is then reported. */
    private final MethodHandle cublasGetStatusString;

    CublasApi(SymbolLookup symbols, String library) {
        this.library = library;
        Downcalls bind = new Downcalls(symbols, library);
        cublasCreate = bind.required("cublasCreate_v2", ADDRESS);
        cublasDestroy = bind.required("cublasDestroy_v2", HANDLE);
        cublasSetStream = bind.required("cublasSetStream_v2", HANDLE, HANDLE);
        cublasSetMathMode = bind.required("cublasSetMathMode", HANDLE, JAVA_INT);
        cublasGetVersion = bind.required("cublasGetVersion_v2", HANDLE, ADDRESS);
        cublasSgemm = bind.required("cublasSgemm_v2",
                HANDLE, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                ADDRESS, DEVICE_POINTER, JAVA_INT, DEVICE_POINTER, JAVA_INT, ADDRESS, DEVICE_POINTER, JAVA_INT);
        cublasGemmEx = bind.required("cublasGemmEx",
                HANDLE, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                ADDRESS, DEVICE_POINTER, JAVA_INT, JAVA_INT, DEVICE_POINTER, JAVA_INT, JAVA_INT,
                ADDRESS, DEVICE_POINTER, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
        // const char *cublasGetStatusString(cublasStatus_t)
        cublasGetStatusString = bind.optional("cublasGetStatusString", FunctionDescriptor.of(ADDRESS, JAVA_INT));
        bind.requireAllFound("the cuBLAS library lacks functions elbo4j needs", "elbo4j needs cuBLAS 12 or 13.");
    }

    String library() {
        return library;
    }

    /** Throws a {@link CublasException} for a non-success status. */
    void check(int status, String call, String detail) {
        if (status != CUBLAS_STATUS_SUCCESS) {
            throw new CublasException(call, status, statusName(status), statusText(status), detail);
        }
    }

    static String statusName(int status) {
        return STATUS_NAMES.getOrDefault(status, "CUBLAS_STATUS_UNRECOGNIZED_" + status);
    }

    private String statusText(int status) {
        if (cublasGetStatusString == null) {
            return "";
        }
        try {
            MemorySegment text = (MemorySegment) cublasGetStatusString.invokeExact(status);
            return text.equals(MemorySegment.NULL) ? "" : text.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int create(MemorySegment handle) {
        try {
            return (int) cublasCreate.invokeExact(handle);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int destroy(long handle) {
        try {
            return (int) cublasDestroy.invokeExact(handle);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int setStream(long handle, long stream) {
        try {
            return (int) cublasSetStream.invokeExact(handle, stream);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int setMathMode(long handle, int mode) {
        try {
            return (int) cublasSetMathMode.invokeExact(handle, mode);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int getVersion(long handle, MemorySegment version) {
        try {
            return (int) cublasGetVersion.invokeExact(handle, version);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int sgemm(long handle, int transA, int transB, int m, int n, int k, MemorySegment alpha, long a, int lda,
              long b, int ldb, MemorySegment beta, long c, int ldc) {
        try {
            return (int) cublasSgemm.invokeExact(handle, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    int gemmEx(long handle, int transA, int transB, int m, int n, int k, MemorySegment alpha,
               long a, int aType, int lda, long b, int bType, int ldb, MemorySegment beta,
               long c, int cType, int ldc, int computeType, int algorithm) {
        try {
            return (int) cublasGemmEx.invokeExact(handle, transA, transB, m, n, k, alpha, a, aType, lda, b, bType, ldb,
                    beta, c, cType, ldc, computeType, algorithm);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }
}
