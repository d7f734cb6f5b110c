// Tree reductions in a fixed order: warp shuffles inside a warp, shared memory across the warps of a
// block. No atomics, so the same inputs give the same bits on every run (docs/numerical-contract.md,
// "The ELBO and the loss").
#pragma once

#define ELBO4J_FULL_MASK 0xffffffffu
#define ELBO4J_WARP 32

// Sum over an aligned team of `width` lanes (a power of two, 1..32): lanes [t*width, (t+1)*width) of the
// warp. A butterfly: every lane of the team ends with the same bits, because each step adds the same two
// values (a + b == b + a in IEEE arithmetic). Every lane of the warp must call it (the shuffles are
// warp-wide exchange points); width must be the same in all lanes.
static __device__ __forceinline__ float elbo4j_team_sum(float value, int width) {
  for (int stride = width >> 1; stride > 0; stride >>= 1) {
    value += __shfl_xor_sync(ELBO4J_FULL_MASK, value, stride);
  }
  return value;
}

static __device__ __forceinline__ double elbo4j_team_sum_double(double value, int width) {
  for (int stride = width >> 1; stride > 0; stride >>= 1) {
    value += __shfl_xor_sync(ELBO4J_FULL_MASK, value, stride);
  }
  return value;
}

static __device__ __forceinline__ float elbo4j_warp_sum(float value) {
#pragma unroll
  for (int stride = ELBO4J_WARP / 2; stride > 0; stride >>= 1) {
    value += __shfl_xor_sync(ELBO4J_FULL_MASK, value, stride);
  }
  return value;
}

static __device__ __forceinline__ double elbo4j_warp_sum_double(double value) {
#pragma unroll
  for (int stride = ELBO4J_WARP / 2; stride > 0; stride >>= 1) {
    value += __shfl_xor_sync(ELBO4J_FULL_MASK, value, stride);
  }
  return value;
}

// Sum over all threads of the block, returned to every thread. blockDim.x must be a multiple of 32 and at
// most 1024; `partials` is a static __shared__ array of at least 32 doubles owned by the caller. Every
// thread of the block must call it.
static __device__ __forceinline__ double elbo4j_block_sum_double(double value, double* partials) {
  const int lane = threadIdx.x % ELBO4J_WARP;
  const int warp = threadIdx.x / ELBO4J_WARP;
  const int warps = blockDim.x / ELBO4J_WARP;
  value = elbo4j_warp_sum_double(value);
  if (lane == 0) partials[warp] = value;
  // Every warp's partial is in shared memory before warp 0 reads them.
  __syncthreads();
  // Every warp sums the partials the same way, so every thread gets the same bits.
  double total = lane < warps ? partials[lane] : 0.0;
  total = elbo4j_warp_sum_double(total);
  // Every warp has read the partials before any thread returns and the caller may reuse `partials`.
  __syncthreads();
  return total;
}

// Column sums of rows [row_begin, row_end) of a (rows x cols) float matrix, sum_r in[r][c], in a fixed
// order: the block's 32 columns are split over 8 slices of rows (slice j takes rows row_begin + j, + 8, ...),
// each summed in row order in double, then the 8 slice sums are added in slice order. Returns the column's
// total (in double) to the threads of slice 0 whose column is < cols, 0 to the others. Launch with
// blockDim.x = 256 and gridDim.x = ceil(cols / 32); every thread of the block must call it.
#define ELBO4J_COLUMN_SUM_COLUMNS 32
#define ELBO4J_COLUMN_SUM_SLICES 8

static __device__ __forceinline__ double elbo4j_column_range_sum(const float* __restrict__ in, int row_begin,
                                                                 int row_end, int cols,
                                                                 double (*slice_sums)[ELBO4J_COLUMN_SUM_COLUMNS]) {
  const int column_in_block = threadIdx.x % ELBO4J_COLUMN_SUM_COLUMNS;
  const int slice = threadIdx.x / ELBO4J_COLUMN_SUM_COLUMNS;
  const int column = blockIdx.x * ELBO4J_COLUMN_SUM_COLUMNS + column_in_block;
  double sum = 0.0;
  if (column < cols) {
    for (int row = row_begin + slice; row < row_end; row += ELBO4J_COLUMN_SUM_SLICES) {
      sum += in[(size_t)row * cols + column];
    }
  }
  // Every slot is written (0 past the last column), so the reads below never see an unwritten slot.
  slice_sums[slice][column_in_block] = sum;
  // All 8 slice sums of every column are in shared memory before slice 0 adds them.
  __syncthreads();
  double total = 0.0;
  if (slice == 0 && column < cols) {
#pragma unroll
    for (int j = 0; j < ELBO4J_COLUMN_SUM_SLICES; ++j) total += slice_sums[j][column_in_block];
  }
  return total;
}

// out[c] = sum_r in[r][c] over all rows, rounded to float (elbo4j_column_range_sum's order and launch). Used
// for the per-dimension log-variance gradient (sum over the rows of per-block partials) and by the unfused
// baseline.
static __device__ __forceinline__ void elbo4j_column_sum(const float* __restrict__ in, int rows, int cols,
                                                         float* __restrict__ out,
                                                         double (*slice_sums)[ELBO4J_COLUMN_SUM_COLUMNS]) {
  const double total = elbo4j_column_range_sum(in, 0, rows, cols, slice_sums);
  const int column = blockIdx.x * ELBO4J_COLUMN_SUM_COLUMNS + threadIdx.x % ELBO4J_COLUMN_SUM_COLUMNS;
  if (threadIdx.x < ELBO4J_COLUMN_SUM_COLUMNS && column < cols) out[column] = (float)total;
}
