// Kernels that misuse barriers or memory on purpose: the emulator must report them, not hang or
// compute something. Never shipped (kernels/ holds the real ones).

// Thread 0 leaves before the barrier the others wait at.
extern "C" __global__ void emutest_exit_before_barrier(int* out) {
  if (threadIdx.x == 0) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

// Two halves of the block wait at two different __syncthreads.
extern "C" __global__ void emutest_divergent_barriers(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
    out[threadIdx.x] = 1;
  } else {
    __syncthreads();
    out[threadIdx.x] = 2;
  }
}

// Lanes 0-15 wait in a full-warp shuffle that lanes 16-31 never reach: they wait at a barrier.
extern "C" __global__ void emutest_shuffle_barrier_deadlock(int* out) {
  int v = threadIdx.x;
  if (threadIdx.x % 32 < 16) {
    v = __shfl_xor_sync(0xffffffffu, v, 1);
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = v;
}

// Writes one element past the end of `out` (n elements): AddressSanitizer must stop it.
extern "C" __global__ void emutest_write_past_end(float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) out[i] = 1.0f;
}

// y[i] += a * x[i]; and a kernel with mixed parameter types, for the parameter layout.
extern "C" __global__ void emutest_axpy(float* __restrict__ y, const float* __restrict__ x, float a, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] += a * x[i];
}

extern "C" __global__ void __launch_bounds__(128, 2)
emutest_param_layout(char c, double d, int i, float4 v, const float* p, short s) {
  if (threadIdx.x == 0 && p == nullptr) printf("%d %f %d %f %d\n", c, d, i, v.x, s);
}

// Many barriers in a loop: the cost of one thread passing one barrier.
extern "C" __global__ void emutest_barrier_loop(int iterations, int* out) {
  __shared__ int counter[1];
  if (threadIdx.x == 0) counter[0] = 0;
  for (int k = 0; k < iterations; ++k) {
    // Each round: one thread bumps the counter while the others wait on both sides of it.
    __syncthreads();
    if (threadIdx.x == k % blockDim.x) counter[0] += 1;
  }
  __syncthreads();
  if (threadIdx.x == 0) out[blockIdx.x] = counter[0];
}
