// Test kernels for the emulator's barrier and shuffle semantics (native/test/emu_test.cpp).
// Plain CUDA: they compile with nvcc as well.

// One block reduces elements [blockIdx.x * chunk, min(n, (blockIdx.x + 1) * chunk)) of `in` to
// block_sums[blockIdx.x]. Works for any block size up to 1024, also not a multiple of 32: a
// partial last warp has lanes_in_warp < 32 lanes and ignores shuffles from lanes it does not have.
extern "C" __global__ void __launch_bounds__(1024)
emutest_block_sum(const int* __restrict__ in, int n, int chunk, long long* __restrict__ block_sums) {
  __shared__ long long warp_sums[32];
  const int begin = blockIdx.x * chunk;
  const int end = min(n, begin + chunk);
  long long sum = 0;
  for (int i = begin + threadIdx.x; i < end; i += blockDim.x) sum += in[i];

  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int lanes_in_warp = min(32, (int)blockDim.x - warp * 32);
  for (int offset = 16; offset > 0; offset /= 2) {
    const long long other = __shfl_down_sync(0xffffffffu, sum, offset);
    if (lane + offset < lanes_in_warp) sum += other;
  }
  if (lane == 0) warp_sums[warp] = sum;
  // Every warp's partial sum must be in shared memory before warp 0 reads them.
  __syncthreads();
  if (warp == 0) {
    const int warps = (blockDim.x + 31) / 32;
    sum = lane < warps ? warp_sums[lane] : 0;
    for (int offset = 16; offset > 0; offset /= 2) {
      const long long other = __shfl_down_sync(0xffffffffu, sum, offset);
      if (lane + offset < lanes_in_warp) sum += other;
    }
    if (lane == 0) block_sums[blockIdx.x] = sum;
  }
}

// Butterfly (xor) reduction in double: after it every lane of every warp holds its warp's total,
// and thread 0 adds the warp totals. blockDim.x must be a multiple of 32.
extern "C" __global__ void emutest_block_sum_xor(const double* __restrict__ in, int n, double* __restrict__ block_sums,
                                                 int* __restrict__ lanes_disagree) {
  __shared__ double warp_sums[32];
  double sum = 0.0;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) sum += in[i];
  for (int mask = 16; mask > 0; mask /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, mask);
  // All lanes must agree after a butterfly; count the lanes that do not.
  const double lane0 = __shfl_sync(0xffffffffu, sum, 0);
  if (sum != lane0) atomicAdd(lanes_disagree, 1);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = sum;
  // The warp totals are complete before thread 0 adds them.
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    for (int w = 0; w < (int)blockDim.x / 32; ++w) total += warp_sums[w];
    block_sums[blockIdx.x] = total;
  }
}

// Each thread publishes a value in shared memory, then (after the barrier) reads its right
// neighbour's; then the roles are reversed in the same array after a second barrier.
extern "C" __global__ void emutest_shared_neighbors(int* __restrict__ out_next, int* __restrict__ out_reversed) {
  __shared__ int values[1024];
  const int t = threadIdx.x, n = blockDim.x;
  values[t] = blockIdx.x * 100000 + t * 3 + 1;
  // Every value is written before any thread reads a neighbour's.
  __syncthreads();
  const int next = values[(t + 1) % n];
  // Every thread has read before the array is overwritten.
  __syncthreads();
  values[n - 1 - t] = next;
  // The reversed array is complete before it is read back.
  __syncthreads();
  out_next[blockIdx.x * n + t] = next;
  out_reversed[blockIdx.x * n + t] = values[t];
}

// One warp's intrinsics, per lane, written to out[lane * 12 + k].
extern "C" __global__ void emutest_warp_intrinsics(int* __restrict__ out) {
  const int lane = threadIdx.x;
  int* o = out + lane * 12;
  // Inclusive prefix sum of (lane + 1) with __shfl_up_sync.
  int scan = lane + 1;
  for (int d = 1; d < 32; d *= 2) {
    const int up = __shfl_up_sync(0xffffffffu, scan, d);
    if (lane >= d) scan += up;
  }
  o[0] = scan;
  o[1] = __shfl_sync(0xffffffffu, lane * 10, 0, 8);        // lane 0 of each 8-lane segment
  o[2] = __shfl_sync(0xffffffffu, lane * 10, 35);          // srcLane 35 is lane 3
  o[3] = __shfl_down_sync(0xffffffffu, lane, 4, 8);        // beyond the segment: own value
  o[4] = __shfl_up_sync(0xffffffffu, lane, 2, 16);         // below the segment: own value
  o[5] = __shfl_xor_sync(0xffffffffu, lane, 1);            // neighbour pairs swap
  o[6] = (int)__ballot_sync(0xffffffffu, lane % 2 == 1);   // odd lanes
  o[7] = __any_sync(0xffffffffu, lane == 31);
  o[8] = __all_sync(0xffffffffu, lane < 31);
  o[9] = (int)__float_as_uint(__shfl_sync(0xffffffffu, 1.5f * lane, 31 - lane));
  // Half-warp groups exchange separately with their own masks.
  const unsigned half = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  o[10] = __shfl_sync(half, lane, lane < 16 ? 15 : 16);
  __syncwarp();
  o[11] = (int)__activemask();
}

// threadIdx/blockIdx/blockDim/gridDim in three dimensions: one record of 12 ints per thread.
extern "C" __global__ void emutest_coordinates(int* __restrict__ out) {
  const int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const int thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  int* o = out + (block * blockDim.x * blockDim.y * blockDim.z + thread) * 12;
  o[0] = threadIdx.x; o[1] = threadIdx.y; o[2] = threadIdx.z;
  o[3] = blockIdx.x; o[4] = blockIdx.y; o[5] = blockIdx.z;
  o[6] = blockDim.x; o[7] = blockDim.y; o[8] = blockDim.z;
  o[9] = gridDim.x; o[10] = gridDim.y; o[11] = gridDim.z;
}

// A block of fewer than 32 threads: the lanes its warp lacks do not exist. Reading one of them in a
// shuffle is undefined on the GPU (the emulator returns a poison value).
extern "C" __global__ void emutest_partial_warp(int* __restrict__ out) {
  const int lane = threadIdx.x;
  out[lane * 3 + 0] = (int)__activemask();
  out[lane * 3 + 1] = (int)__ballot_sync(0xffffffffu, 1);
  out[lane * 3 + 2] = __shfl_sync(0xffffffffu, lane, 31);
}
