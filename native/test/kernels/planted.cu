// Planted bugs: each kernel here carries one mistake that a GPU exposes (a missing barrier, a read of
// shared memory nobody wrote, a misaligned vector access, a fault), beside the correct pattern it was
// copied from. native/test/emu_test.cpp checks that the emulator exposes every mistake and that the
// correct patterns pass under every schedule. Plain CUDA: they compile with nvcc as well.
#include "reduce.cuh"

// elbo4j_block_sum_double (kernels/reduce.cuh) without its second __syncthreads: a warp that runs
// ahead into the next call overwrites `partials` while slower warps still read this call's.
static __device__ double emutest_block_sum_without_second_barrier(double value, double* partials) {
  const int lane = threadIdx.x % ELBO4J_WARP;
  const int warp = threadIdx.x / ELBO4J_WARP;
  const int warps = blockDim.x / ELBO4J_WARP;
  value = elbo4j_warp_sum_double(value);
  if (lane == 0) partials[warp] = value;
  __syncthreads();
  const double total = lane < warps ? partials[lane] : 0.0;
  return elbo4j_warp_sum_double(total);
}

// elbo4j_block_sum_double without the `lane < warps` guard: with fewer than 32 warps, lanes read
// slots of `partials` that no warp of this block wrote.
static __device__ double emutest_block_sum_unguarded(double value, double* partials) {
  const int lane = threadIdx.x % ELBO4J_WARP;
  const int warp = threadIdx.x / ELBO4J_WARP;
  value = elbo4j_warp_sum_double(value);
  if (lane == 0) partials[warp] = value;
  __syncthreads();
  double total = partials[lane];
  total = elbo4j_warp_sum_double(total);
  __syncthreads();
  return total;
}

// Two block sums in a row (of in[i] and of in[i]^2), as a kernel that reduces two quantities does.
// Every warp writes the totals it got: totals[(blockIdx.x * warps + warp) * 2 + {0, 1}].
// variant 0: kernels/reduce.cuh as it is; 1: without the second barrier; 2: without the lane guard.
// blockDim.x must be a multiple of 32.
extern "C" __global__ void emutest_two_block_sums(const double* __restrict__ in, int variant,
                                                  double* __restrict__ totals) {
  __shared__ double partials[ELBO4J_WARP];
  const double x = in[blockIdx.x * blockDim.x + threadIdx.x];
  double first = 0.0, second = 0.0;
  if (variant == 0) {
    first = elbo4j_block_sum_double(x, partials);
    second = elbo4j_block_sum_double(x * x, partials);
  } else if (variant == 1) {
    first = emutest_block_sum_without_second_barrier(x, partials);
    second = emutest_block_sum_without_second_barrier(x * x, partials);
  } else {
    first = emutest_block_sum_unguarded(x, partials);
    second = emutest_block_sum_unguarded(x * x, partials);
  }
  if (threadIdx.x % ELBO4J_WARP == 0) {
    const int slot = blockIdx.x * (blockDim.x / ELBO4J_WARP) + threadIdx.x / ELBO4J_WARP;
    totals[2 * slot] = first;
    totals[2 * slot + 1] = second;
  }
}

// What a __shared__ array holds before this block writes it (undefined on the GPU; 0xff bytes here):
// out[blockIdx.x * blockDim.x + threadIdx.x]. The block then writes the array, which the next block
// on the same OS thread must not see.
extern "C" __global__ void emutest_unwritten_shared(unsigned int* __restrict__ out) {
  __shared__ unsigned int words[1024];
  out[blockIdx.x * blockDim.x + threadIdx.x] = words[threadIdx.x];
  __syncthreads();
  words[threadIdx.x] = threadIdx.x;
}

// Vector accesses at base + offset elements: misaligned unless the address is a multiple of 16 bytes
// (float4) or 4 bytes (uchar4).
extern "C" __global__ void emutest_load_float4(const float* __restrict__ base, int offset, float* __restrict__ out) {
  const float4 v = *reinterpret_cast<const float4*>(base + offset);
  out[0] = v.x + v.y + v.z + v.w;
}

extern "C" __global__ void emutest_store_float4(float* __restrict__ base, int offset) {
  *reinterpret_cast<float4*>(base + offset) = make_float4(1.0f, 2.0f, 3.0f, 4.0f);
}

extern "C" __global__ void emutest_load_uchar4(const unsigned char* __restrict__ base, int offset,
                                               unsigned int* __restrict__ out) {
  const uchar4 v = *reinterpret_cast<const uchar4*>(base + offset);
  out[0] = v.x + v.y + v.z + v.w;
}

// Every thread writes out[threadIdx.x] = 1, then thread 0 traps: the launch faults.
extern "C" __global__ void emutest_trap(int* __restrict__ out) {
  out[threadIdx.x] = 1;
  if (threadIdx.x == 0) __trap();
}

// a * b - c for each of the n triples in abc (a0 b0 c0 a1 ...), each operation rounded on its own.
// Fused into one FMA (g++'s -ffp-contract=fast on a CPU with FMA) it gives a different result for
// triples like a = b = 1 + 2^-12, c = 1 + 2^-11.
extern "C" __global__ void emutest_multiply_subtract(const float* __restrict__ abc, int n, float* __restrict__ out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = abc[3 * i] * abc[3 * i + 1] - abc[3 * i + 2];
}
