// Driver state shared by the driver half (driver.cpp) and the cuBLAS half (cublas.cpp).
// Every exported function takes the one API lock (lock_api) for its whole duration: the JVM may call
// from several threads, and work runs synchronously inside the call.
#ifndef ELBO4J_EMU_STATE_H
#define ELBO4J_EMU_STATE_H

// The exported API is declared by cuda.h and cublas_api.h: default visibility for those declarations
// (everything else is hidden; the version script exports.map lists the exact set).
#pragma GCC visibility push(default)
#include <cuda.h>
#include "cublas_api.h"
#pragma GCC visibility pop

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "grid_runner.h"

namespace elbo4j_emu {

// C = alpha * op(A) * op(B) + beta * C, column-major, float data (cublasSgemm semantics).
struct GemmCall {
  bool transpose_a;
  bool transpose_b;
  int m, n, k;
  float alpha;
  const float* a;
  int lda;
  const float* b;
  int ldb;
  float beta;
  float* c;
  int ldc;
};
// Checks the matrices lie in device memory, then computes; false with *error otherwise.
bool run_gemm(const GemmCall& call, std::string* error);

// Work that a stream executes, or that a capture records for a graph to replay.
struct KernelNode {
  const KernelEntry* kernel;
  dim3 grid;
  dim3 block;
  std::vector<unsigned char> params;  // copied at enqueue, as the driver does
};
enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
struct CopyNode {
  CopyKind kind;
  void* dst;
  const void* src;
  std::size_t bytes;
};
struct SetNode {
  void* dst;
  std::uint32_t value;
  unsigned element_bytes;  // 1 (cuMemsetD8) or 4 (cuMemsetD32)
  std::size_t count;
};
struct GemmNode {
  GemmCall call;
  const char* api;  // the cuBLAS call that enqueued it, for messages
};
using WorkItem = std::variant<KernelNode, CopyNode, SetNode, GemmNode>;

// Executes `item` on `stream` now, or appends it to the stream's capture. `api` names the call.
CUresult submit(const char* api, CUstream stream, WorkItem item);

// True when [address, address + bytes) lies inside one live device allocation.
bool in_device_memory(const void* address, std::size_t bytes);

// Prints one line "elbo4j-cudaemu: ..." to stderr.
void report(const char* format, ...) __attribute__((format(printf, 1, 2)));

std::unique_lock<std::mutex> lock_api();

}  // namespace elbo4j_emu

// The handle types cuda.h and cublas_api.h declare as pointers to incomplete structs.
struct CUctx_st {};

struct CUstream_st {
  unsigned flags = 0;
  CUstreamCaptureStatus capture_status = CU_STREAM_CAPTURE_STATUS_NONE;
  CUstreamCaptureMode capture_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
  std::thread::id capture_thread;
  std::vector<elbo4j_emu::WorkItem> captured;
};

struct CUevent_st {
  unsigned flags = 0;
  bool recorded = false;
  std::chrono::steady_clock::time_point time;
};

struct CUfunc_st;
struct CUmod_st {
  std::string image;                           // the bytes loaded, searched for kernel names
  std::unordered_set<std::string> exposed;     // compiled-in kernels named by the image
  std::unordered_map<std::string, std::unique_ptr<CUfunc_st>> functions;
};

struct CUfunc_st {
  CUmod_st* module;
  const elbo4j_emu::KernelEntry* kernel;
};

struct CUgraph_st {
  std::vector<elbo4j_emu::WorkItem> items;
};

struct CUgraphExec_st {
  std::vector<elbo4j_emu::WorkItem> items;
};

struct cublasContext {
  CUstream stream = nullptr;
  cublasMath_t math_mode = CUBLAS_DEFAULT_MATH;
};

namespace elbo4j_emu {

// Everything a (primary) context owns, plus the cuBLAS handles. Guarded by the API lock.
struct DriverState {
  bool initialized = false;
  int primary_retains = 0;
  bool context_active = false;
  // A fault of work run in the context (CUDA_ERROR_LAUNCH_FAILED, _MISALIGNED_ADDRESS, _ILLEGAL_ADDRESS):
  // every later call needing the context returns it until the context is destroyed.
  CUresult sticky_error = CUDA_SUCCESS;
  std::size_t device_capacity = 0;
  std::size_t device_used = 0;
  std::map<std::uintptr_t, std::size_t> device_blocks;  // base address -> bytes
  std::map<void*, std::size_t> host_blocks;             // cuMemAllocHost
  std::unordered_set<CUstream> streams;
  std::unordered_set<CUevent> events;
  std::unordered_set<CUmodule> modules;
  std::unordered_set<CUfunction> functions;
  std::unordered_set<CUgraph> graphs;
  std::unordered_set<CUgraphExec> graph_execs;
  std::unordered_set<cublasHandle_t> cublas_handles;
};
DriverState& state();

// Checks for calls that need a current, live context without a sticky error.
CUresult require_context();

}  // namespace elbo4j_emu

#endif  // ELBO4J_EMU_STATE_H
