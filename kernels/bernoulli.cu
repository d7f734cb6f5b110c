// Bernoulli reconstruction loss and logit gradient in one pass over the logits and the data.
//
//   logits   (K*B) x D  float32, row r = k*B + b is the decoder's output for sample k of data row b
//   x        B x D      float32 in [0, 1], or uint8 pixels read as p / 255 (a quarter of the bytes)
//   log_prob (K*B)      log p(x_b | z_kb) = sum_d [x_d l_d - softplus(l_d)]
//   grad     (K*B) x D  d loss / d l = grad_scale * (sigmoid(l) - x), the loss being -sum_r w_r log p_r with
//                       w_r = grad_scale (1/B for a batch mean): ready for the decoder's backward GEMM.
//                       May be null when only the log-likelihood is wanted (evaluation).
// With binarize != 0 each x_d is replaced, inside the pass, by 1 if u <= x_d else 0, u the stream-1 uniform
// of element n = b*D + d under (seed, offset); x in memory is never written, and the K samples of a row
// see the same binarized data.
//
// One warp per logits row (8 rows per 256-thread block), walking the row in 128-column tiles (tile.cuh):
// each element is read once and written once, the row sum is a warp shuffle tree, and nothing else is
// stored. Like llm.c's fused classifier, the loss is known to be a weighted sum of the rows, so the
// gradient needs no second pass.
#include "elbo_math.cuh"
#include "philox.cuh"
#include "reduce.cuh"
#include "tile.cuh"

#define ELBO4J_BERNOULLI_THREADS 256
#define ELBO4J_BERNOULLI_ROWS_PER_BLOCK (ELBO4J_BERNOULLI_THREADS / ELBO4J_WARP)

// One lane's 4 logits and targets of a tile.
struct Elbo4jBernoulliTile {
  float logit[4];
  float target[4];
};

template <bool kVector, typename Target>
static __device__ __forceinline__ void elbo4j_bernoulli_load(const float* __restrict__ logits_row,
                                                             const Target* __restrict__ x_row, int tile, int lane,
                                                             int dims, Elbo4jBernoulliTile& data) {
  elbo4j_tile_load<kVector>(logits_row, tile, lane, dims, data.logit);
  elbo4j_tile_load<kVector>(x_row, tile, lane, dims, data.target);
}

// Binarizes (optionally), adds the tile's terms to row_sum and stores its gradient.
template <bool kVector>
static __device__ __forceinline__ void elbo4j_bernoulli_tile(Elbo4jBernoulliTile& data, float* __restrict__ grad_row,
                                                             int data_row, int tile, int lane, int dims,
                                                             float grad_scale, bool binarize,
                                                             unsigned long long seed, unsigned int offset,
                                                             double& row_sum) {
  bool valid[4];
  elbo4j_tile_valid<kVector>(tile, lane, dims, valid);
  if (binarize) {
    float uniform[4];
    elbo4j_tile_uniforms<kVector>(seed, offset, data_row, tile, lane, dims, uniform);
#pragma unroll
    for (int e = 0; e < 4; ++e) data.target[e] = elbo4j_binarize(data.target[e], uniform[e]);
  }
  // The 4 terms are all <= 0, so their float sum cancels nothing (a few ulp) before it joins the double
  // row sum.
  float tile_sum = 0.0f, grad[4];
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const Elbo4jBernoulli element = elbo4j_bernoulli(data.logit[e], data.target[e]);
    tile_sum += valid[e] ? element.log_prob : 0.0f;
    grad[e] = grad_scale * (element.sigmoid - data.target[e]);
  }
  row_sum += (double)tile_sum;
  if (grad_row != nullptr) elbo4j_tile_store<kVector>(grad_row, tile, lane, dims, grad);
}

template <bool kVector, typename Target>
static __device__ __forceinline__ void elbo4j_bernoulli_row(const float* __restrict__ logits_row,
                                                            const Target* __restrict__ x_row,
                                                            float* __restrict__ grad_row, int data_row, int dims,
                                                            float grad_scale, bool binarize,
                                                            unsigned long long seed, unsigned int offset,
                                                            int lane, double& row_sum) {
  for (int tile = 0; tile < dims; tile += 2 * ELBO4J_TILE_COLUMNS) {
    // Both tiles' reads are issued before either is used: two tiles per lane in flight hide the memory
    // latency with fewer resident warps.
    const int second_tile = tile + ELBO4J_TILE_COLUMNS;
    // A second tile wholly past the row's end (the last pass when ceil(D / 128) is odd: D = 784 is 6.125
    // tiles) is skipped, not computed masked: its exp, log1p and Philox words would be an eighth of the
    // kernel's arithmetic at D = 784 for nothing. The test is the same in every lane of the warp.
    const bool has_second = second_tile < dims;
    Elbo4jBernoulliTile first, second;
    elbo4j_bernoulli_load<kVector>(logits_row, x_row, tile, lane, dims, first);
    if (has_second) elbo4j_bernoulli_load<kVector>(logits_row, x_row, second_tile, lane, dims, second);
    elbo4j_bernoulli_tile<kVector>(first, grad_row, data_row, tile, lane, dims, grad_scale, binarize, seed, offset,
                                   row_sum);
    if (has_second) {
      elbo4j_bernoulli_tile<kVector>(second, grad_row, data_row, second_tile, lane, dims, grad_scale, binarize, seed,
                                     offset, row_sum);
    }
  }
}

template <typename Target>
static __device__ __forceinline__ void elbo4j_bernoulli_kernel_body(
    const float* __restrict__ logits, const Target* __restrict__ x, int rows, int batch, int dims, float grad_scale,
    int binarize, unsigned long long seed, unsigned int offset, float* __restrict__ log_prob,
    float* __restrict__ grad, bool vector_layout) {
  const int lane = threadIdx.x % ELBO4J_WARP;
  const int row = blockIdx.x * ELBO4J_BERNOULLI_ROWS_PER_BLOCK + threadIdx.x / ELBO4J_WARP;
  // The whole warp leaves together: the shuffles below involve only warps that stay.
  if (row >= rows) return;
  const int data_row = row % batch;
  const float* logits_row = logits + (size_t)row * dims;
  const Target* x_row = x + (size_t)data_row * dims;
  float* grad_row = grad != nullptr ? grad + (size_t)row * dims : nullptr;
  double row_sum = 0.0;
  if (vector_layout) {
    elbo4j_bernoulli_row<true>(logits_row, x_row, grad_row, data_row, dims, grad_scale, binarize != 0, seed, offset,
                               lane, row_sum);
  } else {
    elbo4j_bernoulli_row<false>(logits_row, x_row, grad_row, data_row, dims, grad_scale, binarize != 0, seed, offset,
                                lane, row_sum);
  }
  row_sum = elbo4j_warp_sum_double(row_sum);
  if (lane == 0) log_prob[row] = (float)row_sum;
}

// x as float32 in [0, 1]. Launch: blockDim 256, gridDim ceil(K*B / 8).
extern "C" __global__ void __launch_bounds__(ELBO4J_BERNOULLI_THREADS)
elbo4j_bernoulli_loss_grad_f32(const float* __restrict__ logits, const float* __restrict__ x, int rows, int batch,
                               int dims, float grad_scale, int binarize, unsigned long long seed,
                               unsigned int offset, float* __restrict__ log_prob, float* __restrict__ grad) {
  // The same test in every thread: float4 accesses need every row of every array 16-byte aligned.
  const bool vector_layout = dims % 4 == 0 && elbo4j_aligned16(logits) && elbo4j_aligned16(x) &&
                             (grad == nullptr || elbo4j_aligned16(grad));
  elbo4j_bernoulli_kernel_body(logits, x, rows, batch, dims, grad_scale, binarize, seed, offset, log_prob, grad,
                               vector_layout);
}

// x as uint8 pixels, target p / 255. Launch: blockDim 256, gridDim ceil(K*B / 8).
extern "C" __global__ void __launch_bounds__(ELBO4J_BERNOULLI_THREADS)
elbo4j_bernoulli_loss_grad_u8(const float* __restrict__ logits, const unsigned char* __restrict__ x, int rows,
                              int batch, int dims, float grad_scale, int binarize, unsigned long long seed,
                              unsigned int offset, float* __restrict__ log_prob, float* __restrict__ grad) {
  // uchar4 pixel loads need 4-byte aligned pixel rows; float4 logits and gradients need 16-byte rows.
  const bool vector_layout = dims % 4 == 0 && elbo4j_aligned16(logits) && elbo4j_aligned4(x) &&
                             (grad == nullptr || elbo4j_aligned16(grad));
  elbo4j_bernoulli_kernel_body(logits, x, rows, batch, dims, grad_scale, binarize, seed, offset, log_prob, grad,
                               vector_layout);
}
