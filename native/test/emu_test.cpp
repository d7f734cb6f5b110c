// The CPU emulator's own tests, through the public driver and cuBLAS API (linked statically with the
// emulator's objects and the test kernels of native/test/kernels). Run by
// `native/build-emulator.sh OUTDIR VARIANT test`; the last line is "emulator: P passed, F failed" and
// the exit status is non-zero when a test fails.
//   emu-test --library LIB.so [--fatbin TEST_KERNELS.fatbin]   the tests
//   emu-test --bench                                             switch cost and reduction timings
// Random inputs come from a seed printed at the start (ELBO4J_TEST_SEED=N repeats a run). The fiber
// schedule is ELBO4J_EMU_SCHEDULE's (printed too); the planted-bug tests also switch schedules themselves.
#include <cuda.h>
#include <dlfcn.h>
#include <elf.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "cublas_api.h"
#include "fiber.h"
#include "grid_runner.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

namespace {

struct Failure {
  std::string message;
};

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buffer[4096];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof buffer, fmt, args);
  va_end(args);
  return buffer;
}

#define CHECK(condition, ...)                                                                          \
  do {                                                                                                 \
    if (!(condition)) {                                                                                \
      throw Failure{format("%s:%d: expected %s: ", __FILE__, __LINE__, #condition) + format(__VA_ARGS__)}; \
    }                                                                                                  \
  } while (0)

std::string result_name(CUresult r) {
  const char* name = nullptr;
  return cuGetErrorName(r, &name) == CUDA_SUCCESS ? name : format("CUresult %d", static_cast<int>(r));
}

#define CHECK_RESULT(call, expected)                                                                    \
  do {                                                                                                  \
    const CUresult result_ = (call);                                                                    \
    if (result_ != (expected)) {                                                                        \
      throw Failure{format("%s:%d: %s returned %s, expected %s", __FILE__, __LINE__, #call,                \
                           result_name(result_).c_str(), result_name(expected).c_str())};               \
    }                                                                                                   \
  } while (0)
#define CU(call) CHECK_RESULT(call, CUDA_SUCCESS)
#define CHECK_STATUS(call, expected)                                                                    \
  do {                                                                                                  \
    const cublasStatus_t status_ = (call);                                                              \
    if (status_ != (expected)) {                                                                        \
      throw Failure{format("%s:%d: %s returned %s, expected %s", __FILE__, __LINE__, #call,                \
                           cublasGetStatusName(status_), cublasGetStatusName(expected))};               \
    }                                                                                                   \
  } while (0)

std::uint64_t g_seed = 0;
std::string g_library;
std::string g_fatbin;
CUmodule g_module = nullptr;
CUcontext g_context = nullptr;

const char* const kTestKernels[] = {
    "emutest_block_sum",        "emutest_block_sum_xor",         "emutest_shared_neighbors",
    "emutest_warp_intrinsics",  "emutest_coordinates",           "emutest_partial_warp",
    "emutest_exit_before_barrier", "emutest_divergent_barriers", "emutest_shuffle_barrier_deadlock",
    "emutest_write_past_end",   "emutest_axpy",                  "emutest_param_layout",
    "emutest_barrier_loop",     "emutest_two_block_sums",        "emutest_unwritten_shared",
    "emutest_load_float4",      "emutest_store_float4",          "emutest_load_uchar4",
    "emutest_trap",             "emutest_multiply_subtract"};

// PTX text whose .entry directives name the given kernels (the emulator reads only the names).
std::string ptx_naming(const std::vector<std::string>& names) {
  std::string ptx = "//\n// test module\n//\n.version 9.0\n.target sm_90\n.address_size 64\n";
  for (const std::string& name : names) ptx += "\n.visible .entry " + name + "(\n)\n{\n\tret;\n}\n";
  return ptx;
}

CUmodule load_module(const std::string& image) {
  CUmodule module = nullptr;
  CU(cuModuleLoadData(&module, image.c_str()));
  return module;
}

CUfunction function(const char* name) {
  CUfunction f = nullptr;
  CU(cuModuleGetFunction(&f, g_module, name));
  return f;
}

struct Dim3 {
  unsigned x, y = 1, z = 1;
};

template <typename... Args>
CUresult launch(CUfunction f, Dim3 grid, Dim3 block, Args... args) {
  void* params[] = {&args...};
  return cuLaunchKernel(f, grid.x, grid.y, grid.z, block.x, block.y, block.z, 0, nullptr, params, nullptr);
}

// Device memory that frees itself.
class Buffer {
 public:
  explicit Buffer(std::size_t bytes) : bytes_(bytes) { CU(cuMemAlloc(&ptr_, bytes)); }
  template <typename T>
  explicit Buffer(const std::vector<T>& host) : Buffer(host.size() * sizeof(T)) {
    CU(cuMemcpyHtoD(ptr_, host.data(), bytes_));
  }
  ~Buffer() { cuMemFree(ptr_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  CUdeviceptr ptr() const { return ptr_; }
  template <typename T>
  T* as() const { return reinterpret_cast<T*>(ptr_); }
  template <typename T>
  std::vector<T> read() const {
    std::vector<T> host(bytes_ / sizeof(T));
    CU(cuMemcpyDtoH(host.data(), ptr_, bytes_));
    return host;
  }

 private:
  std::size_t bytes_;
  CUdeviceptr ptr_ = 0;
};

// Collects what the emulator prints to stderr while it lives.
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    if (pipe(pipe_) != 0) throw Failure{"pipe failed"};
    saved_ = dup(STDERR_FILENO);
    dup2(pipe_[1], STDERR_FILENO);
  }
  ~StderrCapture() { restore(); }
  std::string text() {
    restore();
    return text_;
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    close(pipe_[1]);
    char chunk[4096];
    for (ssize_t n; (n = read(pipe_[0], chunk, sizeof chunk)) > 0;) text_.append(chunk, static_cast<std::size_t>(n));
    close(pipe_[0]);
    saved_ = -1;
  }
  int pipe_[2] = {-1, -1};
  int saved_ = -1;
  std::string text_;
};

bool contains(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

// A string literal's bytes, embedded NULs included.
template <std::size_t N>
std::string bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

// ======================================================================================

void test_block_reduction_with_barriers_and_shuffles() {
  std::mt19937_64 rng(g_seed);
  std::vector<unsigned> sizes;
  for (unsigned b = 32; b <= 1024; b += 32) sizes.push_back(b);
  for (unsigned b : {1u, 7u, 33u, 48u, 100u, 257u, 1000u, 1023u}) sizes.push_back(b);
  CUfunction kernel = function("emutest_block_sum");
  for (unsigned block : sizes) {
    const int n = static_cast<int>(std::uniform_int_distribution<int>(1, 4000)(rng)) * 2 + 1;  // odd
    const int chunk = std::uniform_int_distribution<int>(static_cast<int>(block) / 2 + 1, 3 * static_cast<int>(block))(rng);
    const int blocks = (n + chunk - 1) / chunk;
    std::vector<int> in(static_cast<std::size_t>(n));
    for (int& v : in) v = std::uniform_int_distribution<int>(-1000, 1000)(rng);
    Buffer d_in(in), d_sums(static_cast<std::size_t>(blocks) * sizeof(long long));
    CU(launch(kernel, Dim3{static_cast<unsigned>(blocks)}, Dim3{block}, d_in.as<const int>(), n, chunk,
              d_sums.as<long long>()));
    const std::vector<long long> sums = d_sums.read<long long>();
    for (int b = 0; b < blocks; ++b) {
      long long expected = 0;
      for (int i = b * chunk; i < std::min(n, (b + 1) * chunk); ++i) expected += in[static_cast<std::size_t>(i)];
      CHECK(sums[static_cast<std::size_t>(b)] == expected, "block size %u, n %d, chunk %d, block %d: %lld != %lld",
            block, n, chunk, b, sums[static_cast<std::size_t>(b)], expected);
    }
  }
  // Butterfly reduction of doubles: every lane ends with its warp's total.
  CUfunction butterfly = function("emutest_block_sum_xor");
  for (unsigned block : {32u, 96u, 256u, 1024u}) {
    const unsigned grid = 7;
    const int n = static_cast<int>(grid * block * 2 + 1);
    std::vector<double> in(static_cast<std::size_t>(n));
    double expected = 0;
    for (double& v : in) {
      v = std::uniform_int_distribution<int>(-512, 512)(rng) / 4.0;  // exact in any summation order
      expected += v;
    }
    Buffer d_in(in), d_sums(grid * sizeof(double)), d_disagree(sizeof(int));
    CU(cuMemsetD32(d_disagree.ptr(), 0, 1));
    CU(launch(butterfly, Dim3{grid}, Dim3{block}, d_in.as<const double>(), n, d_sums.as<double>(),
              d_disagree.as<int>()));
    double total = 0;
    for (double s : d_sums.read<double>()) total += s;
    CHECK(total == expected, "butterfly block size %u: %.17g != %.17g", block, total, expected);
    CHECK(d_disagree.read<int>()[0] == 0, "lanes disagree after the butterfly (block size %u)", block);
  }
}

void test_shared_memory_is_per_block_and_barriers_order_it() {
  CUfunction kernel = function("emutest_shared_neighbors");
  for (int n : {256, 1000}) {
    const int blocks = 6;
    Buffer next(static_cast<std::size_t>(blocks * n) * 4), reversed(static_cast<std::size_t>(blocks * n) * 4);
    CU(launch(kernel, Dim3{static_cast<unsigned>(blocks)}, Dim3{static_cast<unsigned>(n)}, next.as<int>(),
              reversed.as<int>()));
    const std::vector<int> got_next = next.read<int>(), got_reversed = reversed.read<int>();
    for (int b = 0; b < blocks; ++b) {
      for (int t = 0; t < n; ++t) {
        const int i = b * n + t;
        const int expect_next = b * 100000 + ((t + 1) % n) * 3 + 1;
        const int expect_reversed = b * 100000 + ((n - t) % n) * 3 + 1;
        CHECK(got_next[static_cast<std::size_t>(i)] == expect_next, "block %d thread %d read %d, expected %d", b, t,
              got_next[static_cast<std::size_t>(i)], expect_next);
        CHECK(got_reversed[static_cast<std::size_t>(i)] == expect_reversed, "block %d thread %d reversed %d, expected %d",
              b, t, got_reversed[static_cast<std::size_t>(i)], expect_reversed);
      }
    }
  }
}

void test_warp_intrinsics_follow_cuda() {
  Buffer out(32 * 12 * 4);
  CU(launch(function("emutest_warp_intrinsics"), Dim3{1}, Dim3{32}, out.as<int>()));
  const std::vector<int> o = out.read<int>();
  for (int lane = 0; lane < 32; ++lane) {
    const int* v = &o[static_cast<std::size_t>(lane) * 12];
    float shuffled_float = 1.5f * static_cast<float>(31 - lane);
    int shuffled_bits;
    std::memcpy(&shuffled_bits, &shuffled_float, 4);
    const int expected[12] = {(lane + 1) * (lane + 2) / 2,
                              (lane & ~7) * 10,
                              30,
                              lane % 8 + 4 < 8 ? lane + 4 : lane,
                              lane % 16 >= 2 ? lane - 2 : lane,
                              lane ^ 1,
                              static_cast<int>(0xaaaaaaaau),
                              1,
                              0,
                              shuffled_bits,
                              lane < 16 ? 15 : 16,
                              -1};
    for (int k = 0; k < 12; ++k) CHECK(v[k] == expected[k], "lane %d value %d: %d != %d", lane, k, v[k], expected[k]);
  }
  // A 20-thread block: lanes 20-31 do not exist.
  Buffer partial(20 * 3 * 4);
  CU(launch(function("emutest_partial_warp"), Dim3{1}, Dim3{20}, partial.as<int>()));
  const std::vector<int> p = partial.read<int>();
  for (int lane = 0; lane < 20; ++lane) {
    CHECK(p[static_cast<std::size_t>(lane) * 3] == 0xfffff, "activemask %x", p[static_cast<std::size_t>(lane) * 3]);
    CHECK(p[static_cast<std::size_t>(lane) * 3 + 1] == 0xfffff, "ballot %x", p[static_cast<std::size_t>(lane) * 3 + 1]);
    CHECK(p[static_cast<std::size_t>(lane) * 3 + 2] == 0x7fc0dead, "a shuffle from a missing lane gave %x, not the poison",
          p[static_cast<std::size_t>(lane) * 3 + 2]);
  }
}

void test_thread_and_block_coordinates() {
  const Dim3 grid{3, 2, 2}, block{8, 4, 2};
  const unsigned threads = 3 * 2 * 2 * 8 * 4 * 2;
  Buffer out(threads * 12 * 4);
  CU(launch(function("emutest_coordinates"), grid, block, out.as<int>()));
  const std::vector<int> o = out.read<int>();
  unsigned record = 0;
  for (unsigned bz = 0; bz < 2; ++bz)
    for (unsigned by = 0; by < 2; ++by)
      for (unsigned bx = 0; bx < 3; ++bx)
        for (unsigned tz = 0; tz < 2; ++tz)
          for (unsigned ty = 0; ty < 4; ++ty)
            for (unsigned tx = 0; tx < 8; ++tx, ++record) {
              const int expected[12] = {int(tx), int(ty), int(tz), int(bx), int(by), int(bz), 8, 4, 2, 3, 2, 2};
              for (int k = 0; k < 12; ++k) {
                CHECK(o[record * 12 + static_cast<unsigned>(k)] == expected[k], "record %u field %d: %d != %d", record,
                      k, o[record * 12 + static_cast<unsigned>(k)], expected[k]);
              }
            }
}

// Destroys the context (the one retain of open_device), which ends a sticky error, and starts a fresh
// one with the test module loaded. Device memory of the old context is gone: free Buffers first.
void recreate_context() {
  CU(cuDevicePrimaryCtxRelease(0));
  CU(cuDevicePrimaryCtxRetain(&g_context, 0));
  CU(cuCtxSetCurrent(g_context));
  g_module = load_module(ptx_naming(std::vector<std::string>(std::begin(kTestKernels), std::end(kTestKernels))));
}

// A launch that faults succeeds; the fault comes from the next calls, as on a GPU (`expected`, with
// one line on stderr naming the kernel and `message`). The context stays broken: recreate_context.
void check_sticky_fault(const char* kernel, CUresult expected, const char* message,
                        const std::function<CUresult()>& launch_faulty) {
  StderrCapture err;
  CHECK_RESULT(launch_faulty(), CUDA_SUCCESS);
  CHECK_RESULT(cuCtxSynchronize(), expected);
  CUdeviceptr p = 0;
  CHECK_RESULT(cuMemAlloc(&p, 16), expected);
  const std::string text = err.text();
  CHECK(contains(text, kernel) && contains(text, message) && contains(text, "[schedule "),
        "%s: the report was: %s", kernel, text.c_str());
}

void test_deadlocks_and_misuse_are_sticky_launch_failures() {
  struct Case {
    const char* kernel;
    unsigned block;
    const char* message;
  };
  const Case cases[] = {
      // Depending on the schedule, thread 0 exits before or after other threads wait at the barrier.
      {"emutest_exit_before_barrier", 64, "exited"},
      {"emutest_divergent_barriers", 32, "different __syncthreads"},
      {"emutest_shuffle_barrier_deadlock", 64, "deadlock in block"},
  };
  for (const Case& c : cases) {
    {
      Buffer out(1024 * 4);
      check_sticky_fault(c.kernel, CUDA_ERROR_LAUNCH_FAILED, c.message,
                         [&] { return launch(function(c.kernel), Dim3{3}, Dim3{c.block}, out.as<int>()); });
    }
    recreate_context();
  }
  // A fresh context works normally.
  test_shared_memory_is_per_block_and_barriers_order_it();
}

void test_faults_are_sticky_until_the_context_is_destroyed() {
  {
    Buffer out(32 * 4);
    CUfunction trap = function("emutest_trap");
    check_sticky_fault("emutest_trap", CUDA_ERROR_LAUNCH_FAILED, "called __trap() at",
                       [&] { return launch(trap, Dim3{2}, Dim3{32}, out.as<int>()); });
    // Every call that needs the context fails; calls that do not still work.
    std::vector<int> host(32);
    CHECK_RESULT(cuMemcpyDtoH(host.data(), out.ptr(), 32 * 4), CUDA_ERROR_LAUNCH_FAILED);
    CHECK_RESULT(cuStreamSynchronize(nullptr), CUDA_ERROR_LAUNCH_FAILED);
    CHECK_RESULT(launch(trap, Dim3{1}, Dim3{32}, out.as<int>()), CUDA_ERROR_LAUNCH_FAILED);
    CUmodule module = nullptr;
    CHECK_RESULT(cuModuleLoadData(&module, ptx_naming({"emutest_axpy"}).c_str()), CUDA_ERROR_LAUNCH_FAILED);
    CHECK_RESULT(cuMemFree(out.ptr()), CUDA_ERROR_LAUNCH_FAILED);
    cublasHandle_t handle = nullptr;
    {
      StderrCapture err;
      CHECK_STATUS(cublasCreate_v2(&handle), CUBLAS_STATUS_NOT_INITIALIZED);
      CHECK(contains(err.text(), "CUDA_ERROR_LAUNCH_FAILED"), "cublasCreate_v2 names the context's error");
    }
    CUcontext current = nullptr;
    CU(cuCtxGetCurrent(&current));
    CHECK(current == g_context, "the context is still current");
    const char* name = nullptr;
    CU(cuGetErrorName(CUDA_ERROR_MISALIGNED_ADDRESS, &name));
  }
  recreate_context();
  {
    // A fresh context runs the kernels' work again.
    std::vector<float> xs(64, 1.0f);
    Buffer x(xs), y(64 * 4);
    CU(cuMemsetD32(y.ptr(), 0, 64));
    CU(launch(function("emutest_axpy"), Dim3{1}, Dim3{64}, y.as<float>(), x.as<const float>(), 2.0f, 64));
    CU(cuCtxSynchronize());
    for (float v : y.read<float>()) CHECK(v == 2.0f, "y = %g after the context was recreated", v);

    // A graph replaying a copy into memory freed since the capture: CUDA_ERROR_ILLEGAL_ADDRESS, sticky too.
    CUstream stream = nullptr;
    CU(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    CUdeviceptr target = 0;
    CU(cuMemAlloc(&target, 64 * 4));
    CU(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CU(cuMemcpyDtoDAsync(target, x.ptr(), 64 * 4, stream));
    CUgraph graph = nullptr;
    CU(cuStreamEndCapture(stream, &graph));
    CUgraphExec exec = nullptr;
    CU(cuGraphInstantiate(&exec, graph, 0));
    CU(cuMemFree(target));
    StderrCapture err;
    CHECK_RESULT(cuGraphLaunch(exec, stream), CUDA_SUCCESS);
    CHECK_RESULT(cuStreamSynchronize(stream), CUDA_ERROR_ILLEGAL_ADDRESS);
    const std::string text = err.text();
    CHECK(contains(text, "no longer allocated") && contains(text, "CUDA_ERROR_ILLEGAL_ADDRESS"), "report: %s",
          text.c_str());
  }
  recreate_context();
}

// The kernels' reductions of kernels/reduce.cuh, and copies with one barrier or guard removed: the
// real one gives exact totals under every schedule; each planted bug shows (wrong totals or NaN).
void test_planted_reduction_bugs_show() {
  std::mt19937_64 rng(g_seed + 2);
  const unsigned blocks = 16, block = 256, warps = block / 32;
  std::vector<double> in(blocks * block);
  for (double& v : in) v = std::uniform_int_distribution<int>(-512, 512)(rng) / 4.0;  // exact sums
  // Variant -> how many warps of the grid got a wrong total (or a NaN) under the current schedule.
  auto wrong_warps = [&](int variant) {
    Buffer d_in(in), d_totals(blocks * warps * 2 * sizeof(double));
    CU(launch(function("emutest_two_block_sums"), Dim3{blocks}, Dim3{block}, d_in.as<const double>(), variant,
              d_totals.as<double>()));
    CU(cuCtxSynchronize());
    const std::vector<double> totals = d_totals.read<double>();
    int wrong = 0;
    for (unsigned b = 0; b < blocks; ++b) {
      double first = 0, second = 0;
      for (unsigned t = 0; t < block; ++t) {
        first += in[b * block + t];
        second += in[b * block + t] * in[b * block + t];
      }
      for (unsigned w = 0; w < warps; ++w) {
        const std::size_t slot = b * warps + w;
        if (!(totals[2 * slot] == first && totals[2 * slot + 1] == second)) ++wrong;
      }
    }
    return wrong;
  };
  const elbo4j_emu::Schedule configured = elbo4j_emu::current_schedule();
  std::vector<elbo4j_emu::Schedule> adversarial;
  for (std::uint64_t k = 0; k < 4; ++k) adversarial.push_back({elbo4j_emu::Schedule::Kind::Warps, g_seed * 4 + k});
  struct Restore {
    elbo4j_emu::Schedule schedule;
    ~Restore() { elbo4j_emu::set_schedule(schedule); }
  } restore{configured};

  // Shared memory is poisoned at every block start: reading slots nobody wrote gives NaN under any order.
  for (const elbo4j_emu::Schedule& schedule : {elbo4j_emu::Schedule{}, adversarial[0]}) {
    elbo4j_emu::set_schedule(schedule);
    const std::string name = elbo4j_emu::schedule_name(schedule);
    CHECK(wrong_warps(0) == 0, "reduce.cuh gave wrong totals under schedule %s", name.c_str());
    CHECK(wrong_warps(2) == static_cast<int>(blocks * warps),
          "the block sum without its lane guard read unwritten shared memory unnoticed under schedule %s",
          name.c_str());
  }
  // A missing barrier: fifo never lets a warp run ahead, warps:SEED does.
  elbo4j_emu::set_schedule(elbo4j_emu::Schedule{});
  const int missed_by_fifo = wrong_warps(1);
  for (const elbo4j_emu::Schedule& schedule : adversarial) {
    elbo4j_emu::set_schedule(schedule);
    const std::string name = elbo4j_emu::schedule_name(schedule);
    CHECK(wrong_warps(0) == 0, "reduce.cuh gave wrong totals under schedule %s", name.c_str());
    CHECK(wrong_warps(1) > 0, "the block sum without its second barrier passed under schedule %s", name.c_str());
  }
  std::printf("       (without its second barrier: %d wrong warp total(s) of %u under fifo)\n", missed_by_fifo,
              blocks * warps);
}

void test_shared_memory_starts_poisoned_in_every_block() {
  const unsigned blocks = 64, block = 1024;
  Buffer out(blocks * block * 4);
  CU(launch(function("emutest_unwritten_shared"), Dim3{blocks}, Dim3{block}, out.as<unsigned>()));
  const std::vector<unsigned> words = out.read<unsigned>();
  for (std::size_t i = 0; i < words.size(); ++i) {
    CHECK(words[i] == 0xffffffffu, "block %zu thread %zu found 0x%08x in unwritten shared memory", i / block, i % block,
          words[i]);
  }
}

// The plain build reports a misaligned vector access as a sticky CUDA_ERROR_MISALIGNED_ADDRESS (the
// asan build stops the process instead: test_alignment_sanitizer_stops_misaligned_vector_accesses).
bool test_misaligned_vector_accesses_are_faults() {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  struct Case {
    const char* kernel;
    int offset;
    const char* message;
  };
  const Case cases[] = {
      {"emutest_load_float4", 1, "loads a float4 at"},
      {"emutest_load_float4", 2, "which is not 16-byte aligned"},
      {"emutest_store_float4", 3, "stores a float4 at"},
      {"emutest_load_uchar4", 1, "loads a uchar4 at"},
      {"emutest_load_uchar4", 3, "which is not 4-byte aligned"},
  };
  for (const Case& c : cases) {
    {
      Buffer base(64), out(16);
      CUfunction f = function(c.kernel);
      const bool store = std::strcmp(c.kernel, "emutest_store_float4") == 0;
      check_sticky_fault(c.kernel, CUDA_ERROR_MISALIGNED_ADDRESS, c.message, [&] {
        return store ? launch(f, Dim3{1}, Dim3{1}, base.as<float>(), c.offset)
                     : launch(f, Dim3{1}, Dim3{1}, base.as<float>(), c.offset, out.as<float>());
      });
    }
    recreate_context();
  }
  // Aligned accesses work.
  std::vector<float> floats(16);
  for (int i = 0; i < 16; ++i) floats[static_cast<std::size_t>(i)] = static_cast<float>(i);
  Buffer base(floats), out(16);
  CU(launch(function("emutest_load_float4"), Dim3{1}, Dim3{1}, base.as<const float>(), 4, out.as<float>()));
  CHECK(out.read<float>()[0] == 4 + 5 + 6 + 7, "aligned float4 load gave %g", out.read<float>()[0]);
  CU(launch(function("emutest_store_float4"), Dim3{1}, Dim3{1}, base.as<float>(), 8));
  CU(launch(function("emutest_load_uchar4"), Dim3{1}, Dim3{1}, base.as<const unsigned char>(), 4, out.as<unsigned>()));
  CU(cuCtxSynchronize());
  CHECK(base.read<float>()[9] == 2.0f, "aligned float4 store");
  return true;
#endif
}

// The asan variant: a misaligned float4 or uchar4 load stops the process with UndefinedBehaviorSanitizer's
// report naming the source line. Each runs in a child process (this program with --misaligned-child KIND).
int misaligned_child(const std::string& kind) {
  Buffer base(64), out(16);
  const bool float4 = kind == "float4";
  const CUresult r = launch(function(float4 ? "emutest_load_float4" : "emutest_load_uchar4"), Dim3{1}, Dim3{1},
                            base.as<float>(), float4 ? 1 : 3, out.as<float>());
  return r == CUDA_SUCCESS && cuCtxSynchronize() == CUDA_SUCCESS ? 0 : 3;
}

#if defined(__SANITIZE_ADDRESS__)
// Runs this program again with `arguments`, which must make it fail; returns what it printed.
std::string run_child(const std::string& arguments) {
  const std::string command = "ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 /proc/" + std::to_string(getpid()) +
                              "/exe " + arguments + " 2>&1";
  FILE* child = popen(command.c_str(), "r");
  CHECK(child != nullptr, "popen failed");
  std::string output;
  char chunk[4096];
  for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, child)) > 0;) output.append(chunk, n);
  const int status = pclose(child);
  CHECK(status != 0, "%s ran to completion; output:\n%s", arguments.c_str(), output.c_str());
  return output;
}
#endif

bool test_alignment_sanitizer_stops_misaligned_vector_accesses() {
#if defined(__SANITIZE_ADDRESS__)
  for (const char* kind : {"float4", "uchar4"}) {
    const std::string output = run_child(std::string("--misaligned-child ") + kind);
    CHECK(contains(output, "misaligned address") && contains(output, kind) && contains(output, "planted.cu:"),
          "%s: unexpected report:\n%s", kind, output.c_str());
  }
  return true;
#else
  return false;  // the plain build reports them as launch faults (test_misaligned_vector_accesses_are_faults)
#endif
}

// Each operation of a kernel rounds on its own: a * b - c is not contracted into one FMA.
void test_kernels_do_not_contract_multiply_add() {
  const float a = 1.0f + 0x1p-12f, c = 1.0f + 0x1p-11f;  // a * a = 1 + 2^-11 + 2^-24, which rounds to c
  const std::vector<float> abc = {a, a, c, 3.0f, 0.5f, 1.0f};
  Buffer d_abc(abc), out(2 * 4);
  CU(launch(function("emutest_multiply_subtract"), Dim3{1}, Dim3{32}, d_abc.as<const float>(), 2, out.as<float>()));
  const std::vector<float> got = out.read<float>();
  CHECK(got[0] == 0.0f, "a * b - c = %a: contracted into an FMA (unfused: 0, fused: 0x1p-24)",
        static_cast<double>(got[0]));
  CHECK(got[1] == 0.5f, "3 * 0.5 - 1 = %g", static_cast<double>(got[1]));
}

void test_schedules_parse_and_name_themselves() {
  elbo4j_emu::Schedule schedule;
  std::string error;
  CHECK(elbo4j_emu::parse_schedule(nullptr, &schedule, &error) && schedule.kind == elbo4j_emu::Schedule::Kind::Fifo,
        "unset: fifo");
  CHECK(elbo4j_emu::parse_schedule("fifo", &schedule, &error) && elbo4j_emu::schedule_name(schedule) == "fifo", "fifo");
  CHECK(elbo4j_emu::parse_schedule("warps:18446744073709551615", &schedule, &error) &&
            elbo4j_emu::schedule_name(schedule) == "warps:18446744073709551615",
        "warps with the largest seed");
  CHECK(elbo4j_emu::parse_schedule("warps", &schedule, &error) && schedule.kind == elbo4j_emu::Schedule::Kind::Warps,
        "warps with a seed from the clock");
  for (const char* bad : {"lifo", "warps:", "warps:-1", "warps:12x", "warps:18446744073709551616", "Warps:1"}) {
    error.clear();
    CHECK(!elbo4j_emu::parse_schedule(bad, &schedule, &error) && contains(error, "is not a schedule"),
          "'%s' was accepted", bad);
  }
}

void test_launch_checks_and_parameter_layout() {
  Buffer y(64 * 4), x(64 * 4);
  CUfunction axpy = function("emutest_axpy");
  StderrCapture quiet;
  CHECK_RESULT(launch(axpy, Dim3{1}, Dim3{1025}, y.as<float>(), x.as<const float>(), 1.0f, 64), CUDA_ERROR_INVALID_VALUE);
  CHECK_RESULT(launch(axpy, Dim3{1}, Dim3{1, 1, 65}, y.as<float>(), x.as<const float>(), 1.0f, 64),
               CUDA_ERROR_INVALID_VALUE);
  CHECK_RESULT(launch(axpy, Dim3{0}, Dim3{32}, y.as<float>(), x.as<const float>(), 1.0f, 64), CUDA_ERROR_INVALID_VALUE);
  float* yp = y.as<float>();
  const float* xp = x.as<const float>();
  float a = 2.0f;
  int n = 64;
  void* params[] = {&yp, &xp, &a, &n};
  CHECK_RESULT(cuLaunchKernel(axpy, 1, 1, 1, 64, 1, 1, 16, nullptr, params, nullptr), CUDA_ERROR_NOT_SUPPORTED);
  CHECK_RESULT(cuLaunchKernel(axpy, 1, 1, 1, 64, 1, 1, 0, nullptr, nullptr, nullptr), CUDA_ERROR_INVALID_VALUE);

  CUfunction layout = function("emutest_param_layout");
  int max_threads = 0;
  CU(cuFuncGetAttribute(&max_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, layout));
  CHECK(max_threads == 128, "__launch_bounds__(128, 2) gave %d", max_threads);
  CU(cuFuncGetAttribute(&max_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, axpy));
  CHECK(max_threads == 1024, "no launch bounds gave %d", max_threads);
  // (char, double, int, float4, const float*, short): each at its natural alignment, float4 at 16.
  const std::size_t offsets[] = {0, 8, 16, 32, 48, 56}, sizes[] = {1, 8, 4, 16, 8, 2};
  for (std::size_t i = 0; i < 6; ++i) {
    std::size_t offset = 99, size = 99;
    CU(cuFuncGetParamInfo(layout, i, &offset, &size));
    CHECK(offset == offsets[i] && size == sizes[i], "parameter %zu at %zu size %zu", i, offset, size);
  }
  std::size_t offset = 0;
  CHECK_RESULT(cuFuncGetParamInfo(layout, 6, &offset, nullptr), CUDA_ERROR_INVALID_VALUE);
  char c = 1;
  double d = 2;
  int i = 3;
  struct alignas(16) Float4 { float v[4]; } v4{};
  const float* p = xp;
  short s = 4;
  void* layout_params[] = {&c, &d, &i, &v4, &p, &s};
  CHECK_RESULT(cuLaunchKernel(layout, 1, 1, 1, 256, 1, 1, 0, nullptr, layout_params, nullptr),
               CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES);
  CU(cuLaunchKernel(layout, 1, 1, 1, 128, 1, 1, 0, nullptr, layout_params, nullptr));

  // The same launch through CU_LAUNCH_PARAM_BUFFER_POINTER: y = 0 + 2 * x.
  std::vector<float> xs(64);
  for (int k = 0; k < 64; ++k) xs[static_cast<std::size_t>(k)] = static_cast<float>(k);
  CU(cuMemcpyHtoD(x.ptr(), xs.data(), 64 * 4));
  CU(cuMemsetD32(y.ptr(), 0, 64));
  struct {
    float* y;
    const float* x;
    float a;
    int n;
  } packed{yp, xp, 2.0f, 64};
  std::size_t packed_size = sizeof packed;
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, &packed, CU_LAUNCH_PARAM_BUFFER_SIZE, &packed_size,
                   CU_LAUNCH_PARAM_END};
  CU(cuLaunchKernel(axpy, 2, 1, 1, 32, 1, 1, 0, nullptr, nullptr, extra));
  const std::vector<float> ys = y.read<float>();
  for (int k = 0; k < 64; ++k) CHECK(ys[static_cast<std::size_t>(k)] == 2.0f * k, "y[%d] = %g", k, ys[static_cast<std::size_t>(k)]);
}

void test_memory_checks_and_errors() {
  StderrCapture quiet;
  CUdeviceptr p = 0;
  CHECK_RESULT(cuMemAlloc(&p, 0), CUDA_ERROR_INVALID_VALUE);
  std::size_t free_before = 0, total = 0;
  CU(cuMemGetInfo(&free_before, &total));
  Buffer b(1000);
  std::size_t free_after = 0;
  CU(cuMemGetInfo(&free_after, &total));
  CHECK(free_before - free_after == 1000, "free memory went from %zu to %zu", free_before, free_after);
  // Fresh memory reads as NaN bytes.
  const std::vector<unsigned char> fresh = b.read<unsigned char>();
  for (unsigned char byte : fresh) CHECK(byte == 0xff, "fresh byte %u", byte);
  std::vector<unsigned char> host(1000, 7);
  CHECK_RESULT(cuMemcpyHtoD(b.ptr() + 1, host.data(), 1000), CUDA_ERROR_INVALID_VALUE);  // one byte too far
  CHECK_RESULT(cuMemcpyHtoD(reinterpret_cast<CUdeviceptr>(host.data()), host.data(), 10), CUDA_ERROR_INVALID_VALUE);
  CHECK_RESULT(cuMemcpyDtoH(host.data(), b.ptr() + 999, 2), CUDA_ERROR_INVALID_VALUE);
  CHECK_RESULT(cuMemsetD32(b.ptr() + 2, 0, 4), CUDA_ERROR_INVALID_VALUE);   // misaligned
  CHECK_RESULT(cuMemsetD32(b.ptr(), 0, 251), CUDA_ERROR_INVALID_VALUE);     // 1004 bytes
  CHECK_RESULT(cuMemFree(b.ptr() + 4), CUDA_ERROR_INVALID_VALUE);           // not the start
  CU(cuMemcpyHtoD(b.ptr() + 500, host.data(), 500));
  CU(cuMemsetD8(b.ptr(), 3, 10));
  CU(cuMemsetD32(b.ptr() + 12, 0x01020304u, 2));
  Buffer copy(1000);
  CU(cuMemcpyDtoD(copy.ptr(), b.ptr(), 1000));
  const std::vector<unsigned char> got = copy.read<unsigned char>();
  CHECK(got[0] == 3 && got[9] == 3 && got[10] == 0xff && got[12] == 4 && got[15] == 1 && got[19] == 1 &&
            got[499] == 0xff && got[500] == 7 && got[999] == 7,
        "memset/memcpy contents");
  CUdeviceptr freed = 0;
  CU(cuMemAlloc(&freed, 64));
  CU(cuMemFree(freed));
  CHECK_RESULT(cuMemFree(freed), CUDA_ERROR_INVALID_VALUE);

  const char* text = nullptr;
  CU(cuGetErrorName(CUDA_ERROR_LAUNCH_FAILED, &text));
  CHECK(std::strcmp(text, "CUDA_ERROR_LAUNCH_FAILED") == 0, "%s", text);
  CU(cuGetErrorString(CUDA_ERROR_LAUNCH_FAILED, &text));
  CHECK(std::strcmp(text, "unspecified launch failure") == 0, "%s", text);
  CU(cuGetErrorString(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, &text));
  CHECK(std::strcmp(text, "operation would make the legacy stream depend on a capturing blocking stream") == 0, "%s", text);
  CHECK_RESULT(cuGetErrorName(static_cast<CUresult>(12345), &text), CUDA_ERROR_INVALID_VALUE);
  CHECK(text == nullptr, "unknown code gave a name");

  char name[64];
  CU(cuDeviceGetName(name, sizeof name, 0));
  CHECK(std::strcmp(name, "elbo4j CPU emulator") == 0, "device name %s", name);
  int major = 0, minor = 0, version = 0;
  CU(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0));
  CU(cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0));
  CHECK(major == 9 && minor == 0, "compute capability %d.%d", major, minor);
  CHECK_RESULT(cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_WIDTH, 0), CUDA_ERROR_NOT_SUPPORTED);
  CU(cuDriverGetVersion(&version));
  CHECK(version == CUDA_VERSION, "driver version %d", version);

  // Without a current context.
  CU(cuCtxSetCurrent(nullptr));
  const CUresult without_context = cuMemAlloc(&p, 16);
  CU(cuCtxSetCurrent(g_context));
  CHECK(without_context == CUDA_ERROR_INVALID_CONTEXT, "%s", result_name(without_context).c_str());
}

// A minimal ELF64 file whose only section is a string table holding `strings`.
std::string elf_with_strings(const std::string& strings) {
  Elf64_Ehdr header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = ELFCLASS64;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = ET_EXEC;
  header.e_machine = 190;  // EM_CUDA
  header.e_version = EV_CURRENT;
  header.e_ehsize = sizeof(Elf64_Ehdr);
  header.e_shoff = sizeof(Elf64_Ehdr);
  header.e_shentsize = sizeof(Elf64_Shdr);
  header.e_shnum = 1;
  Elf64_Shdr section{};
  section.sh_type = SHT_STRTAB;
  section.sh_offset = sizeof(Elf64_Ehdr) + sizeof(Elf64_Shdr);
  section.sh_size = strings.size();
  std::string image(reinterpret_cast<const char*>(&header), sizeof header);
  image.append(reinterpret_cast<const char*>(&section), sizeof section);
  image += strings;
  return image;
}

std::string fatbin_with(const std::string& entries) {
  std::string image = std::string("\x50\xed\x55\xba\x01\x00\x10\x00", 8);
  const std::uint64_t size = entries.size();
  image.append(reinterpret_cast<const char*>(&size), 8);
  return image + entries;
}

bool exposes(CUmodule module, const char* name) {
  CUfunction f = nullptr;
  StderrCapture quiet;
  const CUresult r = cuModuleGetFunction(&f, module, name);
  if (r != CUDA_SUCCESS && r != CUDA_ERROR_NOT_FOUND) throw Failure{"cuModuleGetFunction: " + result_name(r)};
  return r == CUDA_SUCCESS;
}

void test_module_images_expose_only_the_kernels_they_name() {
  // PTX: .entry names only; a longer name does not expose its prefix.
  CUmodule ptx = load_module(ptx_naming({"emutest_axpy", "emutest_not_compiled", "emutest_block_sum_extra"}));
  CHECK(exposes(ptx, "emutest_axpy"), "PTX .entry emutest_axpy");
  CHECK(!exposes(ptx, "emutest_block_sum"), "emutest_block_sum is only a prefix of a named entry");
  CHECK(!exposes(ptx, "emutest_coordinates"), "compiled in but not named");
  CHECK(!exposes(ptx, "emutest_not_compiled"), "named but not compiled in");
  CU(cuModuleUnload(ptx));

  // Cubin: names in an ELF string table.
  CUmodule elf = load_module(
      elf_with_strings(bytes("\0.text.emutest_coordinates\0.nv.info.emutest_coordinates\0emutest_axpy_v2\0")));
  CHECK(exposes(elf, "emutest_coordinates"), "ELF .text.emutest_coordinates");
  CHECK(!exposes(elf, "emutest_axpy"), "emutest_axpy is only part of emutest_axpy_v2");
  CU(cuModuleUnload(elf));

  // Fatbin: names anywhere in its entries.
  CUmodule fat = load_module(fatbin_with(elf_with_strings(bytes("\0emutest_warp_intrinsics\0"))));
  CHECK(exposes(fat, "emutest_warp_intrinsics"), "fatbin");
  CHECK(!exposes(fat, "emutest_coordinates"), "fatbin without the name");
  // A function handle dies with its module.
  CUfunction stale = nullptr;
  CU(cuModuleGetFunction(&stale, fat, "emutest_warp_intrinsics"));
  CU(cuModuleUnload(fat));
  Buffer out(32 * 12 * 4);
  {
    StderrCapture quiet;
    CHECK_RESULT(launch(stale, Dim3{1}, Dim3{32}, out.as<int>()), CUDA_ERROR_INVALID_HANDLE);
  }

  // A real nvcc fatbin of the test kernels, when nvcc was there at build time.
  if (!g_fatbin.empty()) {
    std::ifstream file(g_fatbin, std::ios::binary);
    const std::string image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    CUmodule real = load_module(image);
    for (const char* name : kTestKernels) CHECK(exposes(real, name), "nvcc fatbin does not expose %s", name);
    CU(cuModuleUnload(real));
  } else {
    std::printf("       (no nvcc at build time: the check against a real nvcc fatbin was not run)\n");
  }

  // Rejected images, with the reason in the JIT error log.
  char log[256] = {};
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void* values[] = {log, reinterpret_cast<void*>(std::uintptr_t{sizeof log})};
  CUmodule rejected = nullptr;
  StderrCapture quiet;
  const unsigned char garbage[] = {0x01, 0x02, 0x03, 0x00};
  CHECK_RESULT(cuModuleLoadDataEx(&rejected, garbage, 2, options, values), CUDA_ERROR_INVALID_IMAGE);
  CHECK(contains(log, "neither a fatbin"), "error log: %s", log);
  CHECK(reinterpret_cast<std::uintptr_t>(values[1]) == std::strlen(log) + 1, "log size written back: %zu",
        static_cast<std::size_t>(reinterpret_cast<std::uintptr_t>(values[1])));
  values[1] = reinterpret_cast<void*>(std::uintptr_t{sizeof log});
  CHECK_RESULT(cuModuleLoadDataEx(&rejected, "hello, world\n", 2, options, values), CUDA_ERROR_INVALID_PTX);
  CHECK(contains(log, "not PTX"), "error log: %s", log);
}

void test_graph_capture_records_and_replays() {
  const int n = 1000;
  std::vector<float> xs(n);
  for (int i = 0; i < n; ++i) xs[static_cast<std::size_t>(i)] = static_cast<float>(i);
  Buffer x(xs), y(n * 4), w(n * 4), z(n * 4);
  const float one = 1.0f, two = 2.0f;
  unsigned one_bits, two_bits;
  std::memcpy(&one_bits, &one, 4);
  std::memcpy(&two_bits, &two, 4);
  CU(cuMemsetD32(y.ptr(), one_bits, n));
  // A 3x2 = (3x4)(4x2) column-major product on a cuBLAS handle bound to the stream.
  const std::vector<float> a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, bm = {1, 0, 2, 1, 0, 1, 3, 2};
  Buffer da(a), db(bm), dc(6 * 4);

  // Non-blocking: this test reads buffers with synchronous (legacy-stream) copies during the capture.
  CUstream stream = nullptr;
  CU(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
  cublasHandle_t handle = nullptr;
  CHECK_STATUS(cublasCreate_v2(&handle), CUBLAS_STATUS_SUCCESS);
  CHECK_STATUS(cublasSetStream_v2(handle, stream), CUBLAS_STATUS_SUCCESS);

  CU(cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CU(cuMemsetD32Async(z.ptr(), two_bits, n, stream));
  float* yp = y.as<float>();
  const float* xp = x.as<const float>();
  float alpha = 3.0f;
  int count = n;
  void* params[] = {&yp, &xp, &alpha, &count};
  CU(cuLaunchKernel(function("emutest_axpy"), (n + 255) / 256, 1, 1, 256, 1, 1, 0, stream, params, nullptr));
  alpha = 100.0f;  // parameters were copied at capture
  CU(cuMemcpyDtoDAsync(w.ptr(), y.ptr(), n * 4, stream));
  const float gemm_alpha = 1.0f, gemm_beta = 0.0f;
  CHECK_STATUS(cublasSgemm_v2(handle, CUBLAS_OP_N, CUBLAS_OP_N, 3, 2, 4, &gemm_alpha, da.as<float>(), 3, db.as<float>(),
                              4, &gemm_beta, dc.as<float>(), 3),
               CUBLAS_STATUS_SUCCESS);
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  CU(cuStreamIsCapturing(stream, &status));
  CHECK(status == CU_STREAM_CAPTURE_STATUS_ACTIVE, "capture status %d", static_cast<int>(status));
  // Recorded, not run.
  CHECK(y.read<float>()[7] == 1.0f && std::isnan(z.read<float>()[0]) && std::isnan(dc.read<float>()[0]),
        "work ran during capture");
  CUgraph graph = nullptr;
  CU(cuStreamEndCapture(stream, &graph));
  CUgraphExec exec = nullptr;
  CU(cuGraphInstantiate(&exec, graph, 0));
  CU(cuGraphLaunch(exec, stream));
  CU(cuGraphLaunch(exec, stream));
  CU(cuStreamSynchronize(stream));
  const std::vector<float> ys = y.read<float>(), ws = w.read<float>(), zs = z.read<float>(), cs = dc.read<float>();
  for (int i = 0; i < n; ++i) {
    const float expected = 1.0f + 2 * 3.0f * static_cast<float>(i);
    CHECK(ys[static_cast<std::size_t>(i)] == expected, "y[%d] = %g after two replays, expected %g", i,
          ys[static_cast<std::size_t>(i)], expected);
    CHECK(ws[static_cast<std::size_t>(i)] == expected && zs[static_cast<std::size_t>(i)] == 2.0f, "w/z[%d]", i);
  }
  // A = [1 4 7 10; 2 5 8 11; 3 6 9 12], B = [1 0; 0 1; 2 3; 1 2].
  const float expected_c[6] = {25, 29, 33, 45, 51, 57};
  for (int i = 0; i < 6; ++i) CHECK(cs[static_cast<std::size_t>(i)] == expected_c[i], "C[%d] = %g", i, cs[static_cast<std::size_t>(i)]);
  CU(cuGraphExecDestroy(exec));
  CU(cuGraphDestroy(graph));

  CHECK_STATUS(cublasDestroy_v2(handle), CUBLAS_STATUS_SUCCESS);
  CU(cuStreamDestroy(stream));

  StderrCapture quiet;
  CUstream blocking = nullptr;
  CU(cuStreamCreate(&blocking, CU_STREAM_DEFAULT));
  // The legacy stream may not run work while a blocking stream captures: the capture is invalidated.
  CU(cuStreamBeginCapture(blocking, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CHECK_RESULT(cuMemcpyHtoD(x.ptr(), xs.data(), 4), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);
  CU(cuStreamIsCapturing(blocking, &status));
  CHECK(status == CU_STREAM_CAPTURE_STATUS_INVALIDATED, "capture status %d", static_cast<int>(status));
  CHECK_RESULT(cuStreamEndCapture(blocking, &graph), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  CHECK(graph == nullptr, "an invalidated capture gave a graph");
  // Allocation during a global-mode capture is refused.
  CU(cuStreamBeginCapture(blocking, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUdeviceptr p = 0;
  CHECK_RESULT(cuMemAlloc(&p, 16), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  CHECK_RESULT(cuStreamEndCapture(blocking, &graph), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  CHECK_RESULT(cuStreamEndCapture(blocking, &graph), CUDA_ERROR_ILLEGAL_STATE);
  CHECK_RESULT(cuStreamBeginCapture(nullptr, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  CU(cuStreamDestroy(blocking));
}

// Column-major reference in double.
void reference_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const std::vector<float>& a, int lda,
                    const std::vector<float>& b, int ldb, float beta, std::vector<float>& c, int ldc) {
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < m; ++i) {
      double sum = 0;
      for (int p = 0; p < k; ++p) {
        const double av = ta ? a[static_cast<std::size_t>(p + i * lda)] : a[static_cast<std::size_t>(i + p * lda)];
        const double bv = tb ? b[static_cast<std::size_t>(j + p * ldb)] : b[static_cast<std::size_t>(p + j * ldb)];
        sum += av * bv;
      }
      float& out = c[static_cast<std::size_t>(i + j * ldc)];
      out = static_cast<float>(beta == 0 ? alpha * sum : alpha * sum + static_cast<double>(beta) * out);
    }
  }
}

void test_sgemm_is_column_major_cublas() {
  std::mt19937_64 rng(g_seed + 1);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  cublasHandle_t handle = nullptr;
  CHECK_STATUS(cublasCreate_v2(&handle), CUBLAS_STATUS_SUCCESS);
  struct Shape {
    int m, n, k;
  };
  std::vector<Shape> shapes = {{1, 1, 1}, {3, 5, 7}, {300, 257, 129}};
  for (int r = 0; r < 6; ++r) {
    shapes.push_back({std::uniform_int_distribution<int>(1, 70)(rng), std::uniform_int_distribution<int>(1, 70)(rng),
                      std::uniform_int_distribution<int>(1, 70)(rng)});
  }
  const cublasComputeType_t computes[] = {CUBLAS_COMPUTE_32F, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_COMPUTE_32F_FAST_16BF};
  int variant = 0;
  for (const Shape& s : shapes) {
    for (int t = 0; t < 4; ++t, ++variant) {
      const bool ta = (t & 1) != 0, tb = (t & 2) != 0;
      const int rows_a = ta ? s.k : s.m, cols_a = ta ? s.m : s.k, rows_b = tb ? s.n : s.k, cols_b = tb ? s.k : s.n;
      const int lda = rows_a + variant % 3, ldb = rows_b + variant % 2, ldc = s.m + variant % 4;
      std::vector<float> a(static_cast<std::size_t>(lda * cols_a)), b(static_cast<std::size_t>(ldb * cols_b)),
          c(static_cast<std::size_t>(ldc * s.n));
      for (float& v : a) v = value(rng);
      for (float& v : b) v = value(rng);
      for (float& v : c) v = value(rng);
      const float alpha = value(rng), beta = variant % 5 == 0 ? 0.0f : value(rng);
      if (beta == 0.0f) std::fill(c.begin(), c.end(), std::nanf(""));  // beta = 0: C is not read
      Buffer da(a), db(b), dc(c);
      const cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
      if (variant % 2 == 0) {
        CHECK_STATUS(cublasSgemm_v2(handle, opa, opb, s.m, s.n, s.k, &alpha, da.as<float>(), lda, db.as<float>(), ldb,
                                    &beta, dc.as<float>(), ldc),
                     CUBLAS_STATUS_SUCCESS);
      } else {
        CHECK_STATUS(cublasGemmEx(handle, opa, opb, s.m, s.n, s.k, &alpha, da.as<float>(), CUDA_R_32F, lda,
                                  db.as<float>(), CUDA_R_32F, ldb, &beta, dc.as<float>(), CUDA_R_32F, ldc,
                                  computes[variant % 3], CUBLAS_GEMM_DEFAULT),
                     CUBLAS_STATUS_SUCCESS);
      }
      std::vector<float> expected = c;
      reference_gemm(ta, tb, s.m, s.n, s.k, alpha, a, lda, b, ldb, beta, expected, ldc);
      const std::vector<float> got = dc.read<float>();
      for (int j = 0; j < s.n; ++j) {
        for (int i = 0; i < s.m; ++i) {
          const float g = got[static_cast<std::size_t>(i + j * ldc)], e = expected[static_cast<std::size_t>(i + j * ldc)];
          CHECK(std::fabs(g - e) <= 1e-6f * std::fabs(e) + 1e-6f, "%dx%dx%d ta=%d tb=%d C(%d,%d) = %.9g, expected %.9g",
                s.m, s.n, s.k, ta, tb, i, j, g, e);
        }
        for (int i = s.m; i < ldc; ++i) {  // padding rows are never written
          const float g = got[static_cast<std::size_t>(i + j * ldc)], before = c[static_cast<std::size_t>(i + j * ldc)];
          CHECK(std::memcmp(&g, &before, 4) == 0, "padding row %d of column %d was written", i, j);
        }
      }
    }
  }
  // alpha = 0: A and B are not read (NaN in A does not reach C).
  {
    std::vector<float> a(4, std::nanf("")), b(4, 1.0f), c(4, 2.0f);
    Buffer da(a), db(b), dc(c);
    const float alpha = 0.0f, beta = 0.5f;
    CHECK_STATUS(cublasSgemm_v2(handle, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &alpha, da.as<float>(), 2, db.as<float>(), 2,
                                &beta, dc.as<float>(), 2),
                 CUBLAS_STATUS_SUCCESS);
    for (float v : dc.read<float>()) CHECK(v == 1.0f, "alpha = 0 gave %g", v);
  }
  // Argument checks, as cuBLAS makes them.
  Buffer buf(64 * 64 * 4);
  float* p = buf.as<float>();
  const float one = 1.0f;
  StderrCapture quiet;
  CHECK_STATUS(cublasSgemm_v2(handle, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, p, 3, p, 4, &one, p, 4),
               CUBLAS_STATUS_INVALID_VALUE);  // lda < m
  CHECK_STATUS(cublasSgemm_v2(handle, CUBLAS_OP_T, CUBLAS_OP_N, 4, 4, 5, &one, p, 4, p, 5, &one, p, 4),
               CUBLAS_STATUS_INVALID_VALUE);  // op(A) = A^T: lda < k
  CHECK_STATUS(cublasSgemm_v2(handle, CUBLAS_OP_N, CUBLAS_OP_T, 4, 6, 4, &one, p, 4, p, 5, &one, p, 4),
               CUBLAS_STATUS_INVALID_VALUE);  // op(B) = B^T: ldb < n
  CHECK_STATUS(cublasSgemm_v2(handle, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, p, 4, p, 4, &one, p, 3),
               CUBLAS_STATUS_INVALID_VALUE);  // ldc < m
  CHECK_STATUS(cublasSgemm_v2(handle, CUBLAS_OP_N, CUBLAS_OP_N, -1, 4, 4, &one, p, 4, p, 4, &one, p, 4),
               CUBLAS_STATUS_INVALID_VALUE);
  CHECK_STATUS(cublasSgemm_v2(handle, static_cast<cublasOperation_t>(7), CUBLAS_OP_N, 4, 4, 4, &one, p, 4, p, 4, &one,
                              p, 4),
               CUBLAS_STATUS_INVALID_VALUE);
  CHECK_STATUS(cublasSgemm_v2(handle, CUBLAS_OP_N, CUBLAS_OP_N, 0, 4, 4, &one, p, 1, p, 4, &one, p, 1),
               CUBLAS_STATUS_SUCCESS);  // empty: nothing to do
  std::vector<float> host(16);
  CHECK_STATUS(cublasSgemm_v2(handle, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, host.data(), 4, p, 4, &one, p, 4),
               CUBLAS_STATUS_EXECUTION_FAILED);  // A is host memory
  CHECK_STATUS(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, p, CUDA_R_16F, 4, p, CUDA_R_16F, 4, &one, p,
                            CUDA_R_32F, 4, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               CUBLAS_STATUS_NOT_SUPPORTED);
  CHECK_STATUS(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, p, CUDA_R_32F, 4, p, CUDA_R_32F, 4, &one, p,
                            CUDA_R_32F, 4, CUBLAS_COMPUTE_64F, CUBLAS_GEMM_DEFAULT),
               CUBLAS_STATUS_NOT_SUPPORTED);
  CHECK_STATUS(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, p, CUDA_R_32F, 4, p, CUDA_R_32F, 4, &one, p,
                            CUDA_R_32F, 4, CUBLAS_COMPUTE_32F, static_cast<cublasGemmAlgo_t>(50)),
               CUBLAS_STATUS_INVALID_VALUE);
  cublasMath_t mode = CUBLAS_DEFAULT_MATH;
  CHECK_STATUS(cublasSetMathMode(handle, CUBLAS_TF32_TENSOR_OP_MATH), CUBLAS_STATUS_SUCCESS);
  CHECK_STATUS(cublasGetMathMode(handle, &mode), CUBLAS_STATUS_SUCCESS);
  CHECK(mode == CUBLAS_TF32_TENSOR_OP_MATH, "math mode %d", static_cast<int>(mode));
  CHECK_STATUS(cublasSetMathMode(handle, static_cast<cublasMath_t>(5)), CUBLAS_STATUS_INVALID_VALUE);
  CHECK(std::strcmp(cublasGetStatusName(CUBLAS_STATUS_INVALID_VALUE), "CUBLAS_STATUS_INVALID_VALUE") == 0, "status name");
  int version = 0;
  CHECK_STATUS(cublasGetVersion_v2(handle, &version), CUBLAS_STATUS_SUCCESS);
  CHECK(version >= 130000, "version %d", version);
  CHECK_STATUS(cublasDestroy_v2(handle), CUBLAS_STATUS_SUCCESS);
  CHECK_STATUS(cublasSgemm_v2(handle, CUBLAS_OP_N, CUBLAS_OP_N, 4, 4, 4, &one, p, 4, p, 4, &one, p, 4),
               CUBLAS_STATUS_NOT_INITIALIZED);  // destroyed handle
}

const char* const kContractSymbols[] = {
    "cuInit", "cuDriverGetVersion", "cuDeviceGetCount", "cuDeviceGet", "cuDeviceGetName", "cuDeviceGetAttribute",
    "cuDeviceTotalMem_v2", "cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRelease_v2", "cuCtxSetCurrent",
    "cuCtxGetCurrent", "cuCtxSynchronize", "cuMemGetInfo_v2", "cuMemAlloc_v2", "cuMemFree_v2", "cuMemcpyHtoD_v2",
    "cuMemcpyDtoH_v2", "cuMemcpyDtoD_v2", "cuMemcpyHtoDAsync_v2", "cuMemcpyDtoHAsync_v2", "cuMemcpyDtoDAsync_v2",
    "cuMemsetD8_v2", "cuMemsetD32_v2", "cuMemsetD8Async", "cuMemsetD32Async", "cuMemAllocHost_v2", "cuMemFreeHost",
    "cuStreamCreate", "cuStreamDestroy_v2", "cuStreamSynchronize", "cuEventCreate", "cuEventDestroy_v2",
    "cuEventRecord", "cuEventSynchronize", "cuEventElapsedTime_v2", "cuModuleLoadData", "cuModuleLoadDataEx",
    "cuModuleUnload", "cuModuleGetFunction", "cuFuncGetAttribute", "cuFuncGetParamInfo", "cuLaunchKernel",
    "cuStreamBeginCapture_v2", "cuStreamEndCapture", "cuStreamIsCapturing", "cuGraphInstantiateWithFlags",
    "cuGraphLaunch", "cuGraphExecDestroy", "cuGraphDestroy", "cuGetErrorName", "cuGetErrorString",
    "cublasCreate_v2", "cublasDestroy_v2", "cublasSetStream_v2", "cublasGetStream_v2", "cublasSetMathMode",
    "cublasGetMathMode", "cublasSgemm_v2", "cublasGemmEx", "cublasGetStatusName", "cublasGetStatusString",
    "cublasGetVersion_v2"};

// The names of the functions and objects a shared library defines in its dynamic symbol table.
std::vector<std::string> exported_symbols(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  const std::string elf((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  CHECK(elf.size() > sizeof(Elf64_Ehdr) && elf.compare(0, SELFMAG, ELFMAG) == 0, "%s is not an ELF file", path.c_str());
  Elf64_Ehdr header;
  std::memcpy(&header, elf.data(), sizeof header);
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  for (unsigned i = 0; i < header.e_shnum; ++i) {
    std::memcpy(&sections[i], elf.data() + header.e_shoff + std::size_t{i} * header.e_shentsize, sizeof(Elf64_Shdr));
  }
  std::vector<std::string> names;
  for (const Elf64_Shdr& section : sections) {
    if (section.sh_type != SHT_DYNSYM) continue;
    const Elf64_Shdr& strings = sections[section.sh_link];
    for (std::size_t offset = 0; offset + sizeof(Elf64_Sym) <= section.sh_size; offset += sizeof(Elf64_Sym)) {
      Elf64_Sym symbol;
      std::memcpy(&symbol, elf.data() + section.sh_offset + offset, sizeof symbol);
      const unsigned bind = ELF64_ST_BIND(symbol.st_info);
      if (symbol.st_shndx == SHN_UNDEF || (bind != STB_GLOBAL && bind != STB_WEAK)) continue;
      names.emplace_back(elf.data() + strings.sh_offset + symbol.st_name);
    }
  }
  return names;
}

void test_library_exports_exactly_the_contract() {
  CHECK(!g_library.empty(), "run with --library PATH");
  std::vector<std::string> exported = exported_symbols(g_library);
  std::vector<std::string> contract(std::begin(kContractSymbols), std::end(kContractSymbols));
  std::sort(exported.begin(), exported.end());
  std::sort(contract.begin(), contract.end());
  std::string difference;
  for (const std::string& name : exported) {
    if (!std::binary_search(contract.begin(), contract.end(), name)) difference += " +" + name;
  }
  for (const std::string& name : contract) {
    if (!std::binary_search(exported.begin(), exported.end(), name)) difference += " -" + name;
  }
  CHECK(difference.empty(), "exports differ from the contract (+ extra, - missing):%s", difference.c_str());
  // And the loader resolves them: call one.
  void* library = dlopen(g_library.c_str(), RTLD_NOW | RTLD_LOCAL);
  CHECK(library != nullptr, "dlopen %s: %s", g_library.c_str(), dlerror());
  auto driver_version = reinterpret_cast<CUresult (*)(int*)>(dlsym(library, "cuDriverGetVersion"));
  int version = 0;
  CHECK(driver_version != nullptr && driver_version(&version) == CUDA_SUCCESS && version == CUDA_VERSION,
        "cuDriverGetVersion through dlsym gave %d", version);
}

// The asan variant: a kernel that writes past the end of its buffer must abort the process with an
// AddressSanitizer report. It runs in a child process (this same program with --asan-oob-child).
int asan_oob_child() {
  Buffer out(100 * sizeof(float));
  return launch(function("emutest_write_past_end"), Dim3{1}, Dim3{128}, out.as<float>(), 100) == CUDA_SUCCESS ? 0 : 3;
}

bool test_asan_catches_out_of_bounds_kernel_writes() {
#if defined(__SANITIZE_ADDRESS__)
  const std::string output = run_child("--asan-oob-child");
  CHECK(contains(output, "AddressSanitizer: heap-buffer-overflow") && contains(output, "WRITE of size 4") &&
            contains(output, "emutest_write_past_end"),
        "unexpected report:\n%s", output.c_str());
  return true;
#else
  return false;  // the plain build has no AddressSanitizer
#endif
}

// ======================================================================================

void open_device() {
  CU(cuInit(0));
  CUdevice device = 0;
  CU(cuDeviceGet(&device, 0));
  CU(cuDevicePrimaryCtxRetain(&g_context, device));
  CU(cuCtxSetCurrent(g_context));
  g_module = load_module(ptx_naming(std::vector<std::string>(std::begin(kTestKernels), std::end(kTestKernels))));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU time of the whole process (all threads), which a busy machine does not inflate as it does wall time.
double process_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Fiber switch cost: two contexts handing control back and forth.
elbo4j_emu::FiberContext g_main_context, g_fiber_context;
long g_switches_left = 0;
void ping_pong() {
  for (;;) {
    --g_switches_left;
    elbo4j_emu::fiber_switch(&g_fiber_context, &g_main_context);
  }
}

int bench() {
  const long round_trips = 10'000'000;
  std::vector<char> stack(64 * 1024);
  elbo4j_emu::fiber_prepare(&g_fiber_context, stack.data(), stack.size(), ping_pong);
  g_switches_left = round_trips;
  auto start = std::chrono::steady_clock::now();
  while (g_switches_left > 0) elbo4j_emu::fiber_switch(&g_main_context, &g_fiber_context);
  const double switch_ns = seconds_since(start) * 1e9 / (2.0 * round_trips);
  std::printf("fiber switch: %.2f ns (%ld round trips)\n", switch_ns, round_trips);

  open_device();
  const int barrier_rounds = 4000, barrier_threads = 256;
  Buffer counter(4);
  start = std::chrono::steady_clock::now();
  CU(launch(function("emutest_barrier_loop"), Dim3{1}, Dim3{static_cast<unsigned>(barrier_threads)}, barrier_rounds,
            counter.as<int>()));
  const double barrier_ns = seconds_since(start) * 1e9 / (1.0 * barrier_rounds * barrier_threads);
  std::printf("__syncthreads: %.2f ns per thread per barrier (1 block x %d threads x %d barriers)\n", barrier_ns,
              barrier_threads, barrier_rounds);

  // 4096 rows of 784, one 256-thread block per row: shuffles, a barrier, shuffles.
  const int rows = 4096, columns = 784, block = 256;
  std::vector<int> in(static_cast<std::size_t>(rows) * columns, 1);
  Buffer d_in(in), d_sums(rows * sizeof(long long));
  CUfunction reduce = function("emutest_block_sum");
  for (int run = 0; run < 3; ++run) {
    start = std::chrono::steady_clock::now();
    const double cpu_start = process_cpu_seconds();
    CU(launch(reduce, Dim3{static_cast<unsigned>(rows)}, Dim3{static_cast<unsigned>(block)}, d_in.as<const int>(),
              rows * columns, columns, d_sums.as<long long>()));
    std::printf("block reduction %d blocks x %d threads over %d x %d ints: %.1f ms (CPU time of all threads %.1f ms)\n",
                rows, block, rows, columns, seconds_since(start) * 1e3, (process_cpu_seconds() - cpu_start) * 1e3);
  }

  // An MLP layer's product: (4096 x 784) x (784 x 512), column-major m = 512, n = 4096, k = 784.
  const int m = 512, n = 4096, k = 784;
  Buffer a(static_cast<std::size_t>(m) * k * 4), b(static_cast<std::size_t>(k) * n * 4),
      c(static_cast<std::size_t>(m) * n * 4);
  CU(cuMemsetD32(a.ptr(), 0x3c000000u, static_cast<std::size_t>(m) * k));  // 1/128
  CU(cuMemsetD32(b.ptr(), 0x3c000000u, static_cast<std::size_t>(k) * n));
  cublasHandle_t handle = nullptr;
  if (cublasCreate_v2(&handle) != CUBLAS_STATUS_SUCCESS) throw Failure{"cublasCreate_v2 failed"};
  const float one = 1.0f, zero = 0.0f;
  start = std::chrono::steady_clock::now();
  if (cublasSgemm_v2(handle, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, a.as<float>(), m, b.as<float>(), k, &zero,
                     c.as<float>(), m) != CUBLAS_STATUS_SUCCESS) {
    throw Failure{"cublasSgemm_v2 failed"};
  }
  const double gemm_seconds = seconds_since(start);
  std::printf("sgemm %d x %d x %d: %.1f ms (%.2f GFLOP/s)\n", m, n, k, gemm_seconds * 1e3,
              2.0 * m * n * k / gemm_seconds * 1e-9);
  cublasDestroy_v2(handle);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool run_bench = false, oob_child = false;
  std::string misaligned_kind;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--library" && i + 1 < argc) {
      g_library = argv[++i];
    } else if (arg == "--fatbin" && i + 1 < argc) {
      g_fatbin = argv[++i];
    } else if (arg == "--bench") {
      run_bench = true;
    } else if (arg == "--asan-oob-child") {
      oob_child = true;
    } else if (arg == "--misaligned-child" && i + 1 < argc) {
      misaligned_kind = argv[++i];
    } else {
      std::fprintf(stderr, "usage: emu-test --library LIB.so [--fatbin FILE] | --bench\n");
      return 2;
    }
  }
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's reports go to the real stderr even while a test captures it (StderrCapture): a
  // report that ends the process must not vanish into the capture's pipe.
  __sanitizer_set_report_fd(reinterpret_cast<void*>(static_cast<std::intptr_t>(dup(STDERR_FILENO))));
#endif
  try {
    if (run_bench) return bench();
    open_device();
    if (oob_child) return asan_oob_child();
    if (!misaligned_kind.empty()) return misaligned_child(misaligned_kind);
  } catch (const Failure& f) {
    std::fprintf(stderr, "emulator: %s\n", f.message.c_str());
    return 1;
  }

  const char* seed_text = std::getenv("ELBO4J_TEST_SEED");
  g_seed = seed_text != nullptr ? std::strtoull(seed_text, nullptr, 10)
                                : static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  const std::string schedule = elbo4j_emu::schedule_name(elbo4j_emu::current_schedule());
  std::printf("emulator tests (seed %llu; repeat with ELBO4J_TEST_SEED=%llu; schedule %s, from ELBO4J_EMU_SCHEDULE)\n",
              static_cast<unsigned long long>(g_seed), static_cast<unsigned long long>(g_seed), schedule.c_str());
  struct Test {
    const char* name;
    std::function<bool()> run;  // false: not applicable to this build
  };
  auto always = [](void (*f)()) { return [f] { f(); return true; }; };
  const Test tests[] = {
      {"block reduction with barriers and shuffles", always(test_block_reduction_with_barriers_and_shuffles)},
      {"shared memory is per block; barriers order it", always(test_shared_memory_is_per_block_and_barriers_order_it)},
      {"warp intrinsics follow CUDA", always(test_warp_intrinsics_follow_cuda)},
      {"thread and block coordinates", always(test_thread_and_block_coordinates)},
      {"schedules parse and name themselves", always(test_schedules_parse_and_name_themselves)},
      {"deadlocks and misuse are sticky launch failures", always(test_deadlocks_and_misuse_are_sticky_launch_failures)},
      {"faults are sticky until the context is destroyed",
       always(test_faults_are_sticky_until_the_context_is_destroyed)},
      {"planted reduction bugs show", always(test_planted_reduction_bugs_show)},
      {"shared memory starts poisoned in every block", always(test_shared_memory_starts_poisoned_in_every_block)},
      {"misaligned vector accesses are faults", test_misaligned_vector_accesses_are_faults},
      {"alignment sanitizer stops misaligned vector accesses",
       test_alignment_sanitizer_stops_misaligned_vector_accesses},
      {"kernels do not contract multiply-add", always(test_kernels_do_not_contract_multiply_add)},
      {"launch checks and parameter layout", always(test_launch_checks_and_parameter_layout)},
      {"memory checks and error names", always(test_memory_checks_and_errors)},
      {"module images expose only the kernels they name", always(test_module_images_expose_only_the_kernels_they_name)},
      {"graph capture records and replays", always(test_graph_capture_records_and_replays)},
      {"sgemm is column-major cuBLAS", always(test_sgemm_is_column_major_cublas)},
      {"library exports exactly the contract", always(test_library_exports_exactly_the_contract)},
      {"AddressSanitizer catches out-of-bounds kernel writes", test_asan_catches_out_of_bounds_kernel_writes},
  };
  int passed = 0, failed = 0;
  for (const Test& test : tests) {
    const auto start = std::chrono::steady_clock::now();
    try {
      if (test.run()) {
        ++passed;
        std::printf("  PASS %s (%.2f s)\n", test.name, seconds_since(start));
      } else {
        std::printf("  SKIP %s (the other build variant runs it)\n", test.name);
      }
    } catch (const Failure& f) {
      ++failed;
      std::printf("  FAIL %s: %s (seed %llu, schedule %s)\n", test.name, f.message.c_str(),
                  static_cast<unsigned long long>(g_seed), schedule.c_str());
      // A test that failed half-way may leave a sticky error behind: the next test gets a fresh context.
      if (cuCtxSynchronize() != CUDA_SUCCESS) {
        try {
          recreate_context();
        } catch (const Failure& again) {
          std::printf("  cannot recreate the context: %s\n", again.message.c_str());
          break;
        }
      }
    }
    std::fflush(stdout);
  }
  std::printf("emulator: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
