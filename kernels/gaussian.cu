// Gaussian reconstruction loss and gradients in one pass over the means, the data and the log-variance.
//
//   mean     (K*B) x D  float32, row r = k*B + b is the decoder's output for sample k of data row b
//   x        B x D      float32
//   logvar   s, one of three modes (contract, "Gaussian"): null               -> the fixed scalar logvar_fixed
//                                           logvar_row_stride 0 -> a learned vector of D values
//                                           logvar_row_stride D -> a decoder output, (K*B) x D
//   log_prob (K*B)      log p = -0.5 sum_d [log(2 pi) + s_d + (x_d - m_d)^2 exp(-s_d)]
//   grad_mean (K*B) x D grad_scale * (m - x) exp(-s)                 (null: not written)
//   grad_logvar_rows    grad_scale * 0.5 (1 - (x - m)^2 exp(-s)), (K*B) x D, per-row mode (null: not written)
//   logvar_partials     per-dimension mode (null: not written): gridDim.x x D, partial[block][d] = the sum of
//                       grad_scale * 0.5 (1 - (x - m)^2 exp(-s_d)) over the block's 16 rows (scaled first, so a
//                       collapsed dimension's huge terms stay finite where the scaled gradient is);
//                       elbo4j_gaussian_logvar_grad then adds the blocks' partials in a fixed order:
//                       no floating-point atomics.
// Every finite input gives a finite result where the formula's value is finite (elbo_math.cuh, elbo4j_gaussian).
// The gradients are those of the loss -sum_r w_r log p_r with w_r = grad_scale (1/B for a batch mean).
//
// A block owns 16 consecutive rows, two per warp (rows w and w + 8); it walks the columns in 128-column
// tiles (tile.cuh), each lane owning 4 columns, so a lane can keep its columns' per-dimension partial in
// registers across the block's rows. Row sums accumulate in double and finish with a warp shuffle tree.
#include "elbo_math.cuh"
#include "reduce.cuh"
#include "tile.cuh"

#define ELBO4J_GAUSSIAN_THREADS 256
#define ELBO4J_GAUSSIAN_WARPS (ELBO4J_GAUSSIAN_THREADS / ELBO4J_WARP)
#define ELBO4J_GAUSSIAN_ROWS_PER_WARP 2
#define ELBO4J_GAUSSIAN_ROWS_PER_BLOCK (ELBO4J_GAUSSIAN_WARPS * ELBO4J_GAUSSIAN_ROWS_PER_WARP)

template <bool kVector>
static __device__ __forceinline__ void elbo4j_gaussian_rows(
    const float* __restrict__ mean, const float* __restrict__ x, int rows, int batch, int dims,
    const float* __restrict__ logvar, float logvar_fixed, int logvar_row_stride, float grad_scale,
    float* __restrict__ log_prob, float* __restrict__ grad_mean, float* __restrict__ grad_logvar_rows,
    float* __restrict__ logvar_partials, float (*column_share)[ELBO4J_TILE_COLUMNS]) {
  const int lane = threadIdx.x % ELBO4J_WARP;
  const int warp = threadIdx.x / ELBO4J_WARP;
  const int first_row = blockIdx.x * ELBO4J_GAUSSIAN_ROWS_PER_BLOCK + warp;
  // s + (x - m)^2 exp(-s) summed over the row, for this warp's two rows.
  double row_sum[ELBO4J_GAUSSIAN_ROWS_PER_WARP] = {0.0, 0.0};

  for (int tile = 0; tile < dims; tile += ELBO4J_TILE_COLUMNS) {
    bool valid[4];
    elbo4j_tile_valid<kVector>(tile, lane, dims, valid);
    // The warp's rows' reads are all issued before any is used: two rows per lane in flight.
    float m[ELBO4J_GAUSSIAN_ROWS_PER_WARP][4], target[ELBO4J_GAUSSIAN_ROWS_PER_WARP][4],
        s[ELBO4J_GAUSSIAN_ROWS_PER_WARP][4];
#pragma unroll
    for (int i = 0; i < ELBO4J_GAUSSIAN_ROWS_PER_WARP; ++i) {
      const int row = first_row + i * ELBO4J_GAUSSIAN_WARPS;
      if (row >= rows) continue;  // warp-uniform
      elbo4j_tile_load<kVector>(mean + (size_t)row * dims, tile, lane, dims, m[i]);
      elbo4j_tile_load<kVector>(x + (size_t)(row % batch) * dims, tile, lane, dims, target[i]);
      if (logvar == nullptr) {
#pragma unroll
        for (int e = 0; e < 4; ++e) s[i][e] = logvar_fixed;
      } else {
        elbo4j_tile_load<kVector>(logvar + (size_t)row * logvar_row_stride, tile, lane, dims, s[i]);
      }
    }
    // grad_scale * 0.5 (1 - (x - m)^2 exp(-s)) of this lane's 4 columns, summed over the warp's rows.
    float column_sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int i = 0; i < ELBO4J_GAUSSIAN_ROWS_PER_WARP; ++i) {
      const int row = first_row + i * ELBO4J_GAUSSIAN_WARPS;
      if (row >= rows) continue;  // warp-uniform
      float dm[4], ds[4];
      double tile_sum = 0.0;
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const Elbo4jGaussian element = elbo4j_gaussian(m[i][e], target[i][e], s[i][e], grad_scale, grad_scale);
        if (valid[e]) {
          tile_sum += element.log_term;
          column_sum[e] += element.grad_logvar;
        }
        dm[e] = element.grad_mean;
        ds[e] = element.grad_logvar;
      }
      row_sum[i] += tile_sum;
      if (grad_mean != nullptr) elbo4j_tile_store<kVector>(grad_mean + (size_t)row * dims, tile, lane, dims, dm);
      if (grad_logvar_rows != nullptr) {
        elbo4j_tile_store<kVector>(grad_logvar_rows + (size_t)row * dims, tile, lane, dims, ds);
      }
    }
    if (logvar_partials != nullptr) {  // the same in every thread of the block
#pragma unroll
      for (int e = 0; e < 4; ++e) column_share[warp][elbo4j_tile_slot<kVector>(lane, e)] = column_sum[e];
      // Every warp's column sums of this tile are in shared memory before they are added up.
      __syncthreads();
      const int column = tile + threadIdx.x;
      if (threadIdx.x < ELBO4J_TILE_COLUMNS && column < dims) {
        float block_sum = 0.0f;
#pragma unroll
        for (int w = 0; w < ELBO4J_GAUSSIAN_WARPS; ++w) block_sum += column_share[w][threadIdx.x];
        logvar_partials[(size_t)blockIdx.x * dims + column] = block_sum;
      }
      // The sums have been read before the next tile overwrites column_share.
      __syncthreads();
    }
  }

#pragma unroll
  for (int i = 0; i < ELBO4J_GAUSSIAN_ROWS_PER_WARP; ++i) {
    const int row = first_row + i * ELBO4J_GAUSSIAN_WARPS;
    const double sum = elbo4j_warp_sum_double(row_sum[i]);
    if (lane == 0 && row < rows) log_prob[row] = (float)(-0.5 * (sum + (double)dims * ELBO4J_LOG_2PI));
  }
}

// Launch: blockDim 256, gridDim ceil(K*B / 16); logvar_partials (when not null) holds gridDim.x x D floats.
extern "C" __global__ void __launch_bounds__(ELBO4J_GAUSSIAN_THREADS)
elbo4j_gaussian_loss_grad(const float* __restrict__ mean, const float* __restrict__ x, int rows, int batch, int dims,
                          const float* __restrict__ logvar, float logvar_fixed, int logvar_row_stride,
                          float grad_scale, float* __restrict__ log_prob, float* __restrict__ grad_mean,
                          float* __restrict__ grad_logvar_rows, float* __restrict__ logvar_partials) {
  __shared__ float column_share[ELBO4J_GAUSSIAN_WARPS][ELBO4J_TILE_COLUMNS];
  // The same test in every thread: float4 accesses need every row of every array 16-byte aligned.
  const bool vector_layout = dims % 4 == 0 && elbo4j_aligned16(mean) && elbo4j_aligned16(x) &&
                             (logvar == nullptr || elbo4j_aligned16(logvar)) &&
                             (grad_mean == nullptr || elbo4j_aligned16(grad_mean)) &&
                             (grad_logvar_rows == nullptr || elbo4j_aligned16(grad_logvar_rows));
  if (vector_layout) {
    elbo4j_gaussian_rows<true>(mean, x, rows, batch, dims, logvar, logvar_fixed, logvar_row_stride, grad_scale,
                               log_prob, grad_mean, grad_logvar_rows, logvar_partials, column_share);
  } else {
    elbo4j_gaussian_rows<false>(mean, x, rows, batch, dims, logvar, logvar_fixed, logvar_row_stride, grad_scale,
                                log_prob, grad_mean, grad_logvar_rows, logvar_partials, column_share);
  }
}

// The per-dimension log-variance gradient: grad_logvar[d] = the sum over blocks of partials[block][d] (blocks x D,
// from elbo4j_gaussian_loss_grad, which has applied grad_scale already), added in a fixed order (reduce.cuh).
// Launch: blockDim 256, gridDim ceil(D / 32).
extern "C" __global__ void __launch_bounds__(ELBO4J_COLUMN_SUM_COLUMNS * ELBO4J_COLUMN_SUM_SLICES)
elbo4j_gaussian_logvar_grad(const float* __restrict__ partials, int blocks, int dims,
                            float* __restrict__ grad_logvar) {
  __shared__ double slice_sums[ELBO4J_COLUMN_SUM_SLICES][ELBO4J_COLUMN_SUM_COLUMNS];
  elbo4j_column_sum(partials, blocks, dims, grad_logvar, slice_sums);
}
