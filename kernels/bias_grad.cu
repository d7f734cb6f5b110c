// The bias gradient of a dense layer, dbias[c] = sum_r dpre[r][c], as a deterministic two-stage column
// reduction: no atomics, the same order of additions on every run and every device, so the step's bits are
// reproducible (spec: "reductions are tree reductions in a fixed order").
//
//   dpre     rows x cols   dLoss/dpre, row-major (the activation backward's output, or the loss gradient)
//   partials chunks x cols double, stage 1's per-chunk sums (only when chunks > 1)
//   dbias    cols          float
//
// Stage 1 (elbo4j_bias_grad_partial): grid (ceil(cols / 32), chunks); a chunk is ELBO4J_BIAS_GRAD_CHUNK_ROWS
// consecutive rows. A block of 256 threads takes 32 columns of one chunk and sums them with
// elbo4j_column_range_sum (reduce.cuh): warp w (a "slice") sums rows chunk_start + w, + 8, + 16, ... of its
// lane's column in double, in row order; lane l of every warp reads column l, so each warp reads 128
// contiguous bytes per row. The 8 slice sums of a column are then added in slice order by warp 0 and written
// to partials[chunk][c], or straight to dbias[c] when there is one chunk.
// Stage 2 (elbo4j_bias_grad_final): one thread per column adds the chunks' partials in chunk order.
// The chunk size is a constant, so the order depends on the shape alone.
#include "reduce.cuh"

#define ELBO4J_BIAS_GRAD_THREADS (ELBO4J_COLUMN_SUM_COLUMNS * ELBO4J_COLUMN_SUM_SLICES)
#define ELBO4J_BIAS_GRAD_CHUNK_ROWS 256

// Launch: blockDim 256, gridDim (ceil(cols / 32), ceil(rows / 256)). With one chunk (gridDim.y == 1) the
// block writes dbias and partials is not used (may be null).
extern "C" __global__ void __launch_bounds__(ELBO4J_BIAS_GRAD_THREADS)
elbo4j_bias_grad_partial(const float* __restrict__ dpre, int rows, int cols, double* __restrict__ partials,
                         float* __restrict__ dbias) {
  __shared__ double slice_sums[ELBO4J_COLUMN_SUM_SLICES][ELBO4J_COLUMN_SUM_COLUMNS];
  const int chunk_start = blockIdx.y * ELBO4J_BIAS_GRAD_CHUNK_ROWS;
  const int chunk_end = min(rows, chunk_start + ELBO4J_BIAS_GRAD_CHUNK_ROWS);
  const double total = elbo4j_column_range_sum(dpre, chunk_start, chunk_end, cols, slice_sums);
  const int column = blockIdx.x * ELBO4J_COLUMN_SUM_COLUMNS + threadIdx.x % ELBO4J_COLUMN_SUM_COLUMNS;
  if (threadIdx.x < ELBO4J_COLUMN_SUM_COLUMNS && column < cols) {
    if (gridDim.y == 1) {
      dbias[column] = (float)total;
    } else {
      partials[(size_t)blockIdx.y * cols + column] = total;
    }
  }
}

// Launch: blockDim 256, gridDim ceil(cols / 256).
extern "C" __global__ void __launch_bounds__(ELBO4J_BIAS_GRAD_THREADS)
elbo4j_bias_grad_final(const double* __restrict__ partials, int chunks, int cols, float* __restrict__ dbias) {
  const int column = blockIdx.x * blockDim.x + threadIdx.x;
  if (column >= cols) return;
  double total = 0.0;
  for (int chunk = 0; chunk < chunks; ++chunk) total += partials[(size_t)chunk * cols + column];
  dbias[column] = (float)total;
}
