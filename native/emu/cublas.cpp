// The cuBLAS subset, on the CPU: handles bound to streams (so calls are recorded during a stream
// capture, like any other work), math modes, and single-precision GEMM with cuBLAS's column-major
// semantics and argument checks.
//
// Precision: every GEMM, whatever the compute type or math mode (CUBLAS_COMPUTE_32F, _FAST_TF32,
// _FAST_16BF, TF32 tensor-op math), multiplies float inputs exactly and accumulates in double,
// then applies alpha and beta in double and rounds once to float. That is at least as accurate as
// any of the GPU's modes; tests must allow for the GPU's own (lower) precision, not the emulator's.
// Scalars alpha and beta are read from host memory (CUBLAS_POINTER_MODE_HOST, the default).
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "state.h"

namespace elbo4j_emu {
namespace {

// Registers hold a 4 x 4 tile of C; panels of op(A) and op(B) are packed 4 rows/columns at a time,
// interleaved, so that the inner loop reads both with unit stride.
constexpr int kTile = 4;
constexpr int kBlockRows = 64;  // rows of C per task: its A panel (64 x k floats) stays in cache

struct PackedMatrix {
  int tiles;  // ceil(count / 4)
  int k;
  std::vector<float> data;  // tiles x k x 4, zero padded
};

// Packs `count` rows (op(A)) or columns (op(B)) of a column-major matrix: element (r, p) of the packed
// operand is at(r, p). Padding rows are zero, so padded products never reach a stored element.
template <typename At>
PackedMatrix pack(int count, int k, At at) {
  PackedMatrix packed{(count + kTile - 1) / kTile, k, {}};
  packed.data.assign(static_cast<std::size_t>(packed.tiles) * k * kTile, 0.0f);
  for (int r = 0; r < count; ++r) {
    float* out = packed.data.data() + static_cast<std::size_t>(r / kTile) * k * kTile + r % kTile;
    for (int p = 0; p < k; ++p) out[static_cast<std::size_t>(p) * kTile] = at(r, p);
  }
  return packed;
}

void multiply(const GemmCall& g) {
  auto element = [](const float* m, int ld, bool transpose) {
    return [=](int r, int p) {  // op(M)(r, p) of a column-major M with leading dimension ld
      return transpose ? m[r * static_cast<std::size_t>(ld) + p] : m[r + static_cast<std::size_t>(p) * ld];
    };
  };
  const PackedMatrix a = pack(g.m, g.k, element(g.a, g.lda, g.transpose_a));
  // op(B)(p, j) as "row j, position p" of the packed operand.
  const auto b_at = element(g.b, g.ldb, g.transpose_b);
  const PackedMatrix b = pack(g.n, g.k, [&](int j, int p) { return b_at(p, j); });
  const int row_blocks = (g.m + kBlockRows - 1) / kBlockRows;
  parallel_for(static_cast<std::size_t>(row_blocks), [&](std::size_t block) {
    const int row_tile_begin = static_cast<int>(block) * (kBlockRows / kTile);
    const int row_tile_end = std::min(a.tiles, row_tile_begin + kBlockRows / kTile);
    for (int jt = 0; jt < b.tiles; ++jt) {
      const float* bp = b.data.data() + static_cast<std::size_t>(jt) * g.k * kTile;
      for (int it = row_tile_begin; it < row_tile_end; ++it) {
        const float* ap = a.data.data() + static_cast<std::size_t>(it) * g.k * kTile;
        double acc[kTile][kTile] = {};
        for (int p = 0; p < g.k; ++p) {
          const float* av = ap + static_cast<std::size_t>(p) * kTile;
          const float* bv = bp + static_cast<std::size_t>(p) * kTile;
          for (int r = 0; r < kTile; ++r) {
            const double x = av[r];
            for (int c = 0; c < kTile; ++c) acc[r][c] += x * static_cast<double>(bv[c]);
          }
        }
        for (int r = 0; r < kTile; ++r) {
          const int i = it * kTile + r;
          if (i >= g.m) break;
          for (int c = 0; c < kTile; ++c) {
            const int j = jt * kTile + c;
            if (j >= g.n) break;
            float& out = g.c[i + static_cast<std::size_t>(j) * g.ldc];
            // beta == 0: C is not read (it may hold NaN), as in the reference BLAS.
            const double scaled = g.alpha * acc[r][c];
            out = static_cast<float>(g.beta == 0.0f ? scaled : scaled + static_cast<double>(g.beta) * out);
          }
        }
      }
    }
  });
}

// Bytes spanned by a column-major rows x cols matrix with leading dimension ld.
std::size_t extent_bytes(int rows, int cols, int ld) {
  return (static_cast<std::size_t>(cols - 1) * ld + rows) * sizeof(float);
}

// The matrices must be device memory: the GPU would fault on anything else.
bool operands_in_device_memory(const GemmCall& g, std::string* error) {
  const bool reads_ab = g.k > 0 && g.alpha != 0.0f;
  if (reads_ab) {
    const int rows_a = g.transpose_a ? g.k : g.m, cols_a = g.transpose_a ? g.m : g.k;
    const int rows_b = g.transpose_b ? g.n : g.k, cols_b = g.transpose_b ? g.k : g.n;
    if (!in_device_memory(g.a, extent_bytes(rows_a, cols_a, g.lda))) {
      *error = "matrix A (" + std::to_string(rows_a) + " x " + std::to_string(cols_a) + ", lda " +
               std::to_string(g.lda) + ") is not inside one device allocation";
      return false;
    }
    if (!in_device_memory(g.b, extent_bytes(rows_b, cols_b, g.ldb))) {
      *error = "matrix B (" + std::to_string(rows_b) + " x " + std::to_string(cols_b) + ", ldb " +
               std::to_string(g.ldb) + ") is not inside one device allocation";
      return false;
    }
  }
  if (!in_device_memory(g.c, extent_bytes(g.m, g.n, g.ldc))) {
    *error = "matrix C (" + std::to_string(g.m) + " x " + std::to_string(g.n) + ", ldc " + std::to_string(g.ldc) +
             ") is not inside one device allocation";
    return false;
  }
  return true;
}

bool valid_handle(cublasHandle_t handle) { return state().cublas_handles.count(handle) != 0; }

// The cublasGet* calls: copies one setting of a live handle to *out.
template <typename Setting>
cublasStatus_t read_setting(cublasHandle_t handle, Setting cublasContext::*setting, Setting* out) {
  auto lock = lock_api();
  if (!valid_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (out == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *out = handle->*setting;
  return CUBLAS_STATUS_SUCCESS;
}

bool valid_operation(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

// The argument checks of cublas<t>gemm, in cuBLAS's order, then the work (run or recorded).
cublasStatus_t gemm(const char* api, cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                    int m, int n, int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                    const float* beta, float* C, int ldc) {
  if (!valid_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  const int rows_a = transa == CUBLAS_OP_N ? m : k;
  const int rows_b = transb == CUBLAS_OP_N ? k : n;
  if (!valid_operation(transa) || !valid_operation(transb) || m < 0 || n < 0 || k < 0 ||
      lda < std::max(1, rows_a) || ldb < std::max(1, rows_b) || ldc < std::max(1, m) || alpha == nullptr ||
      beta == nullptr) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const GemmCall call{transa != CUBLAS_OP_N, transb != CUBLAS_OP_N, m, n, k, *alpha, A, lda, B, ldb, *beta, C, ldc};
  std::string error;
  if (!operands_in_device_memory(call, &error)) {
    report("%s: %s", api, error.c_str());
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  if (submit(api, handle->stream, GemmNode{call, api}) != CUDA_SUCCESS) return CUBLAS_STATUS_EXECUTION_FAILED;
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

bool run_gemm(const GemmCall& g, std::string* error) {
  if (!operands_in_device_memory(g, error)) return false;
  if (g.k == 0 || g.alpha == 0.0f) {
    // C = beta * C; A and B are not read (reference BLAS).
    for (int j = 0; j < g.n; ++j) {
      float* column = g.c + static_cast<std::size_t>(j) * g.ldc;
      for (int i = 0; i < g.m; ++i) column[i] = g.beta == 0.0f ? 0.0f : g.beta * column[i];
    }
    return true;
  }
  multiply(g);
  return true;
}

}  // namespace elbo4j_emu

using namespace elbo4j_emu;

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  auto lock = lock_api();
  if (handle == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  const CUresult context = require_context();
  if (context != CUDA_SUCCESS) {
    const char* name = nullptr;
    cuGetErrorName(context, &name);
    report("cublasCreate_v2: no usable CUDA context (%s; cuInit and a current context come first)", name);
    return CUBLAS_STATUS_NOT_INITIALIZED;
  }
  *handle = new cublasContext();
  state().cublas_handles.insert(*handle);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  auto lock = lock_api();
  if (state().cublas_handles.erase(handle) == 0) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

// cuBLAS 13.0.0 (CUBLAS_VERSION = major * 10000 + minor * 100 + patch).
cublasStatus_t cublasGetVersion_v2(cublasHandle_t, int* version) {
  if (version == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
  *version = 130000;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId) {
  auto lock = lock_api();
  if (!valid_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  const bool special = streamId == nullptr || streamId == CU_STREAM_LEGACY || streamId == CU_STREAM_PER_THREAD;
  if (!special && state().streams.count(streamId) == 0) {
    report("cublasSetStream_v2: unknown or destroyed stream handle %p", static_cast<void*>(streamId));
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  handle->stream = streamId;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t* streamId) {
  return read_setting(handle, &cublasContext::stream, streamId);
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  auto lock = lock_api();
  if (!valid_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  const int base = static_cast<int>(mode) & ~CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
  if (base != CUBLAS_DEFAULT_MATH && base != CUBLAS_TENSOR_OP_MATH && base != CUBLAS_PEDANTIC_MATH &&
      base != CUBLAS_TF32_TENSOR_OP_MATH && base != CUBLAS_FP32_EMULATED_BF16X9_MATH &&
      base != CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  handle->math_mode = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
  return read_setting(handle, &cublasContext::math_mode, mode);
}

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

// The meanings cuBLAS documents for each status.
const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "the operation completed successfully";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR: return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the requested feature is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR: return "error detected trying to check the license";
  }
  return "unknown cuBLAS status";
}

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                              int k, const float* alpha, const float* A, int lda, const float* B, int ldb,
                              const float* beta, float* C, int ldc) {
  auto lock = lock_api();
  return gemm("cublasSgemm_v2", handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                            int k, const void* alpha, const void* A, cudaDataType Atype, int lda, const void* B,
                            cudaDataType Btype, int ldb, const void* beta, void* C, cudaDataType Ctype, int ldc,
                            cublasComputeType_t computeType, cublasGemmAlgo_t algo) {
  auto lock = lock_api();
  if (!valid_handle(handle)) return CUBLAS_STATUS_NOT_INITIALIZED;
  const int algo_value = static_cast<int>(algo);
  const bool known_algo = algo_value == CUBLAS_GEMM_DEFAULT || algo_value == CUBLAS_GEMM_DEFAULT_TENSOR_OP ||
                          (algo_value >= 0 && algo_value <= 23) || (algo_value >= 100 && algo_value <= 115);
  if (!known_algo) return CUBLAS_STATUS_INVALID_VALUE;
  switch (computeType) {
    case CUBLAS_COMPUTE_32F:
    case CUBLAS_COMPUTE_32F_PEDANTIC:
    case CUBLAS_COMPUTE_32F_FAST_16F:
    case CUBLAS_COMPUTE_32F_FAST_16BF:
    case CUBLAS_COMPUTE_32F_FAST_TF32:
      break;
    default:
      report("cublasGemmEx: compute type %d is not emulated (32F, 32F_PEDANTIC and 32F_FAST_16F/16BF/TF32 are)",
             static_cast<int>(computeType));
      return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if (Atype != CUDA_R_32F || Btype != CUDA_R_32F || Ctype != CUDA_R_32F) {
    report("cublasGemmEx: data types A=%d B=%d C=%d are not emulated (only CUDA_R_32F)", static_cast<int>(Atype),
           static_cast<int>(Btype), static_cast<int>(Ctype));
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  return gemm("cublasGemmEx", handle, transa, transb, m, n, k, static_cast<const float*>(alpha),
              static_cast<const float*>(A), lda, static_cast<const float*>(B), ldb, static_cast<const float*>(beta),
              static_cast<float*>(C), ldc);
}
