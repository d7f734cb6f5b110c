// The CUDA device dialect on the CPU: included (g++ -include) before every kernels/*.cu so that the
// same kernel source that nvcc compiles for the GPU compiles here into plain C++ functions.
//
// One CUDA thread = one user-level fiber; the fibers of a block run on one OS thread, one at a time,
// and give way only at the points where CUDA threads can observe each other:
//   __syncthreads()        every thread of the block reaches it before any passes it;
//   warp intrinsics        (__shfl*_sync, __ballot_sync, __any_sync, __all_sync, __syncwarp) are
//                          exchange points: the lanes named in the mask all arrive, then all values
//                          are exchanged at once (lockstep), as on the GPU.
// __shared__ variables become thread_local (block-scope thread_local is static storage): one copy
// per OS thread, and an OS thread runs one block at a time, so each running block has its own. At
// the start of every block they are filled with 0xff bytes (NaN as float or double), since on the GPU
// their content is undefined: the linker script native/emu/shared_memory.ld gathers the
// thread-local data of the kernel objects (which is nothing but their __shared__ variables) into one
// range, and the block runner poisons that range (grid_runner.cpp). A kernel must not declare other
// thread_local variables.
// Only the subset listed in native/README.md ("The device dialect") is defined; any
// other CUDA construct fails to compile here instead of meaning something else.
#ifndef ELBO4J_DEVICE_EMU_H
#define ELBO4J_DEVICE_EMU_H

// System headers come first: the macros below (__noinline__ in particular) must not reach them.
#include <math.h>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <array>
#include <type_traits>
#include <utility>

#include "kernel_abi.h"

// ---- qualifiers ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __shared__ thread_local

// ---- built-in variables ----
#define threadIdx (::elbo4j_emu::current_thread->thread_idx)
#define blockIdx (::elbo4j_emu::current_block->block_idx)
#define blockDim (::elbo4j_emu::current_block->block_dim)
#define gridDim (::elbo4j_emu::current_block->grid_dim)
constexpr int warpSize = 32;

// ---- synchronization and warp intrinsics (macros so the call site appears in deadlock reports) ----
#define __syncthreads() ::elbo4j_emu::sync_threads(__FILE__, __LINE__)
#define __trap() ::elbo4j_emu::trap(__FILE__, __LINE__)
#define __syncwarp(...) ::elbo4j_emu::syncwarp(__FILE__, __LINE__ __VA_OPT__(, ) __VA_ARGS__)
#define __shfl_sync(...) ::elbo4j_emu::shfl(__FILE__, __LINE__, __VA_ARGS__)
#define __shfl_up_sync(...) ::elbo4j_emu::shfl_up(__FILE__, __LINE__, __VA_ARGS__)
#define __shfl_down_sync(...) ::elbo4j_emu::shfl_down(__FILE__, __LINE__, __VA_ARGS__)
#define __shfl_xor_sync(...) ::elbo4j_emu::shfl_xor(__FILE__, __LINE__, __VA_ARGS__)
#define __ballot_sync(mask, pred) ::elbo4j_emu::vote(__FILE__, __LINE__, ::elbo4j_emu::WarpOp::Ballot, mask, pred)
#define __any_sync(mask, pred) \
  static_cast<int>(::elbo4j_emu::vote(__FILE__, __LINE__, ::elbo4j_emu::WarpOp::Any, mask, pred))
#define __all_sync(mask, pred) \
  static_cast<int>(::elbo4j_emu::vote(__FILE__, __LINE__, ::elbo4j_emu::WarpOp::All, mask, pred))
// The emulator has no notion of divergence: __activemask() is an exchange point of every lane of the
// warp that has not exited, and returns those lanes. Right after a convergence point or early
// returns; lanes that wait elsewhere meanwhile (divergent code) make it a reported deadlock.
#define __activemask() ::elbo4j_emu::vote(__FILE__, __LINE__, ::elbo4j_emu::WarpOp::ActiveMask, 0xffffffffu, 1)

// ---- memory ----
template <typename T>
inline T __ldg(const T* p) { return *p; }
inline int atomicAdd(int* address, int value) { return __atomic_fetch_add(address, value, __ATOMIC_RELAXED); }
inline unsigned int atomicAdd(unsigned int* address, unsigned int value) {
  return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}

// ---- bit reinterpretation and integer intrinsics ----
inline unsigned int __float_as_uint(float x) { unsigned int u; std::memcpy(&u, &x, 4); return u; }
inline float __uint_as_float(unsigned int u) { float x; std::memcpy(&x, &u, 4); return x; }
inline int __float_as_int(float x) { int i; std::memcpy(&i, &x, 4); return i; }
inline float __int_as_float(int i) { float x; std::memcpy(&x, &i, 4); return x; }
inline unsigned int __umulhi(unsigned int a, unsigned int b) {
  return static_cast<unsigned int>((static_cast<unsigned long long>(a) * b) >> 32);
}
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}
inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __clz(int x) { return x == 0 ? 32 : __builtin_clz(static_cast<unsigned int>(x)); }
inline int __ffs(int x) { return __builtin_ffs(x); }

inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned int min(unsigned int a, unsigned int b) { return a < b ? a : b; }
inline unsigned int max(unsigned int a, unsigned int b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }

// ---- math not in the C library (the rest: expf, log1pf, sincosf, ... come from <math.h>) ----
inline float rsqrtf(float x) { return static_cast<float>(1.0 / std::sqrt(static_cast<double>(x))); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float sinpif(float x) { return static_cast<float>(::elbo4j_emu::sinpi(x)); }
inline float cospif(float x) { return static_cast<float>(::elbo4j_emu::cospi(x)); }
inline void sincospif(float x, float* s, float* c) { *s = sinpif(x); *c = cospif(x); }
inline double sinpi(double x) { return ::elbo4j_emu::sinpi(x); }
inline double cospi(double x) { return ::elbo4j_emu::cospi(x); }
inline void sincospi(double x, double* s, double* c) { *s = sinpi(x); *c = cospi(x); }
// CUDA: clamp to [+0, 1]; NaN gives 0 (fmaxf returns the number when one argument is NaN).
inline float __saturatef(float x) { return fminf(fmaxf(x, 0.0f), 1.0f); }

#endif  // ELBO4J_DEVICE_EMU_H
