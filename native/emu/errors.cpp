// cuGetErrorName / cuGetErrorString: the driver's names and texts, for every code the emulator can
// return and the other common ones. Texts are those the CUDA driver returns.
#include "state.h"

namespace {

struct ErrorText {
  CUresult code;
  const char* name;
  const char* text;
};

#define ELBO4J_ERROR(code, text) {code, #code, text}
constexpr ErrorText kErrors[] = {
    ELBO4J_ERROR(CUDA_SUCCESS, "no error"),
    ELBO4J_ERROR(CUDA_ERROR_INVALID_VALUE, "invalid argument"),
    ELBO4J_ERROR(CUDA_ERROR_OUT_OF_MEMORY, "out of memory"),
    ELBO4J_ERROR(CUDA_ERROR_NOT_INITIALIZED, "initialization error"),
    ELBO4J_ERROR(CUDA_ERROR_DEINITIALIZED, "driver shutting down"),
    ELBO4J_ERROR(CUDA_ERROR_PROFILER_DISABLED, "profiler disabled while using external profiling tool"),
    ELBO4J_ERROR(CUDA_ERROR_PROFILER_NOT_INITIALIZED, "profiler not initialized: call cudaProfilerInitialize()"),
    ELBO4J_ERROR(CUDA_ERROR_PROFILER_ALREADY_STARTED, "profiler already started"),
    ELBO4J_ERROR(CUDA_ERROR_PROFILER_ALREADY_STOPPED, "profiler already stopped"),
    ELBO4J_ERROR(CUDA_ERROR_STUB_LIBRARY, "CUDA driver is a stub library"),
    ELBO4J_ERROR(CUDA_ERROR_DEVICE_UNAVAILABLE, "CUDA-capable device(s) is/are busy or unavailable"),
    ELBO4J_ERROR(CUDA_ERROR_NO_DEVICE, "no CUDA-capable device is detected"),
    ELBO4J_ERROR(CUDA_ERROR_INVALID_DEVICE, "invalid device ordinal"),
    ELBO4J_ERROR(CUDA_ERROR_INVALID_IMAGE, "device kernel image is invalid"),
    ELBO4J_ERROR(CUDA_ERROR_INVALID_CONTEXT, "invalid device context"),
    ELBO4J_ERROR(CUDA_ERROR_CONTEXT_ALREADY_CURRENT, "context already current"),
    ELBO4J_ERROR(CUDA_ERROR_MAP_FAILED, "mapping of buffer object failed"),
    ELBO4J_ERROR(CUDA_ERROR_UNMAP_FAILED, "unmapping of buffer object failed"),
    ELBO4J_ERROR(CUDA_ERROR_ARRAY_IS_MAPPED, "array is mapped"),
    ELBO4J_ERROR(CUDA_ERROR_ALREADY_MAPPED, "resource already mapped"),
    ELBO4J_ERROR(CUDA_ERROR_NO_BINARY_FOR_GPU, "no kernel image is available for execution on the device"),
    ELBO4J_ERROR(CUDA_ERROR_ALREADY_ACQUIRED, "resource already acquired"),
    ELBO4J_ERROR(CUDA_ERROR_NOT_MAPPED, "resource not mapped"),
    ELBO4J_ERROR(CUDA_ERROR_NOT_MAPPED_AS_ARRAY, "resource not mapped as array"),
    ELBO4J_ERROR(CUDA_ERROR_NOT_MAPPED_AS_POINTER, "resource not mapped as pointer"),
    ELBO4J_ERROR(CUDA_ERROR_ECC_UNCORRECTABLE, "uncorrectable ECC error encountered"),
    ELBO4J_ERROR(CUDA_ERROR_UNSUPPORTED_LIMIT, "limit is not supported on this architecture"),
    ELBO4J_ERROR(CUDA_ERROR_CONTEXT_ALREADY_IN_USE, "exclusive-thread device already in use by a different thread"),
    ELBO4J_ERROR(CUDA_ERROR_PEER_ACCESS_UNSUPPORTED, "peer access is not supported between these two devices"),
    ELBO4J_ERROR(CUDA_ERROR_INVALID_PTX, "a PTX JIT compilation failed"),
    ELBO4J_ERROR(CUDA_ERROR_INVALID_GRAPHICS_CONTEXT, "invalid OpenGL or DirectX context"),
    ELBO4J_ERROR(CUDA_ERROR_JIT_COMPILER_NOT_FOUND, "PTX JIT compiler library not found"),
    ELBO4J_ERROR(CUDA_ERROR_UNSUPPORTED_PTX_VERSION, "the provided PTX was compiled with an unsupported toolchain."),
    ELBO4J_ERROR(CUDA_ERROR_INVALID_SOURCE, "device kernel image is invalid"),
    ELBO4J_ERROR(CUDA_ERROR_FILE_NOT_FOUND, "file not found"),
    ELBO4J_ERROR(CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND, "shared object symbol not found"),
    ELBO4J_ERROR(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED, "shared object initialization failed"),
    ELBO4J_ERROR(CUDA_ERROR_OPERATING_SYSTEM, "OS call failed or operation not supported on this OS"),
    ELBO4J_ERROR(CUDA_ERROR_INVALID_HANDLE, "invalid resource handle"),
    ELBO4J_ERROR(CUDA_ERROR_ILLEGAL_STATE, "the operation cannot be performed in the present state"),
    ELBO4J_ERROR(CUDA_ERROR_NOT_FOUND, "named symbol not found"),
    ELBO4J_ERROR(CUDA_ERROR_NOT_READY, "device not ready"),
    ELBO4J_ERROR(CUDA_ERROR_ILLEGAL_ADDRESS, "an illegal memory access was encountered"),
    ELBO4J_ERROR(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "too many resources requested for launch"),
    ELBO4J_ERROR(CUDA_ERROR_LAUNCH_TIMEOUT, "the launch timed out and was terminated"),
    ELBO4J_ERROR(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED, "peer access is already enabled"),
    ELBO4J_ERROR(CUDA_ERROR_PEER_ACCESS_NOT_ENABLED, "peer access has not been enabled"),
    ELBO4J_ERROR(CUDA_ERROR_CONTEXT_IS_DESTROYED, "context is destroyed"),
    ELBO4J_ERROR(CUDA_ERROR_ASSERT, "device-side assert triggered"),
    ELBO4J_ERROR(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED,
                 "part or all of the requested memory range is already mapped"),
    ELBO4J_ERROR(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, "pointer does not correspond to a registered memory region"),
    ELBO4J_ERROR(CUDA_ERROR_HARDWARE_STACK_ERROR, "hardware stack error"),
    ELBO4J_ERROR(CUDA_ERROR_ILLEGAL_INSTRUCTION, "an illegal instruction was encountered"),
    ELBO4J_ERROR(CUDA_ERROR_MISALIGNED_ADDRESS, "misaligned address"),
    ELBO4J_ERROR(CUDA_ERROR_INVALID_ADDRESS_SPACE, "operation not supported on global/shared address space"),
    ELBO4J_ERROR(CUDA_ERROR_INVALID_PC, "invalid program counter"),
    ELBO4J_ERROR(CUDA_ERROR_LAUNCH_FAILED, "unspecified launch failure"),
    ELBO4J_ERROR(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, "too many blocks in cooperative launch"),
    ELBO4J_ERROR(CUDA_ERROR_NOT_PERMITTED, "operation not permitted"),
    ELBO4J_ERROR(CUDA_ERROR_NOT_SUPPORTED, "operation not supported"),
    ELBO4J_ERROR(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "operation not permitted when stream is capturing"),
    ELBO4J_ERROR(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "operation failed due to a previous error during capture"),
    ELBO4J_ERROR(CUDA_ERROR_STREAM_CAPTURE_MERGE, "operation would result in a merge of separate capture sequences"),
    ELBO4J_ERROR(CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, "capture was not ended in the same stream as it began"),
    ELBO4J_ERROR(CUDA_ERROR_STREAM_CAPTURE_UNJOINED, "capturing stream has unjoined work"),
    ELBO4J_ERROR(CUDA_ERROR_STREAM_CAPTURE_ISOLATION, "dependency created on uncaptured work in another stream"),
    ELBO4J_ERROR(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT,
                 "operation would make the legacy stream depend on a capturing blocking stream"),
    ELBO4J_ERROR(CUDA_ERROR_CAPTURED_EVENT, "operation not permitted on an event last recorded in a capturing stream"),
    ELBO4J_ERROR(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD,
                 "attempt to terminate a thread-local capture sequence from another thread"),
    ELBO4J_ERROR(CUDA_ERROR_TIMEOUT, "wait operation timed out"),
    ELBO4J_ERROR(CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE,
                 "the graph update was not performed because it included changes which violated constraints "
                 "specific to instantiated graph update"),
    ELBO4J_ERROR(CUDA_ERROR_UNKNOWN, "unknown error"),
};
#undef ELBO4J_ERROR

const ErrorText* find_error(CUresult code) {
  for (const ErrorText& e : kErrors) {
    if (e.code == code) return &e;
  }
  return nullptr;
}

}  // namespace

// Need neither cuInit nor a context, like the driver's.
CUresult CUDAAPI cuGetErrorName(CUresult error, const char** pStr) {
  if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const ErrorText* e = find_error(error);
  *pStr = e != nullptr ? e->name : nullptr;
  return e != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuGetErrorString(CUresult error, const char** pStr) {
  if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const ErrorText* e = find_error(error);
  *pStr = e != nullptr ? e->text : nullptr;
  return e != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
