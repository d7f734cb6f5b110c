// The global L2 norm of the flat gradient buffer, sqrt(sum g^2), in double and in a fixed order, written to the
// step state (step_state.cuh) where the guard (elbo4j_adam_prepare) reads it. Two stages:
//
//   elbo4j_grad_norm_partial  grid G (the launcher's function of n alone, at most 512) x 256 threads: thread t
//                             of block blk adds the squares of grads[i], i = blk*256 + t + j*(G*256), in
//                             order; the block's threads are added by a shuffle-and-shared-memory tree;
//                             partials[blk] = the block's sum
//   elbo4j_grad_norm_final    one block: the G partials added in a fixed order; gradient_norm = sqrt(sum)
//
// Squares of floats summed in double cannot overflow (at most 2^31 terms, each below 1.2e77), so the sum is
// finite exactly when every gradient is: a NaN or infinity anywhere makes the norm NaN or infinite, and the
// guard skips the step. Since G depends on n alone, so do the order of the additions and the bits.
#include "reduce.cuh"
#include "step_state.cuh"

#define ELBO4J_GRAD_NORM_THREADS 256

// Launch: blockDim 256, gridDim G = min(512, ceil(n / 2048)) (dev.elbo4j.kernels.GradientNormKernels).
extern "C" __global__ void __launch_bounds__(ELBO4J_GRAD_NORM_THREADS)
elbo4j_grad_norm_partial(const float* __restrict__ grads, int n, double* __restrict__ partials) {
  __shared__ double warp_sums[ELBO4J_WARP];
  double sum = 0.0;
  // Unsigned: i < n < 2^31 and the stride is at most 512 * 256, so i + stride stays below 2^32.
  const unsigned int stride = gridDim.x * blockDim.x;
  for (unsigned int i = blockIdx.x * blockDim.x + threadIdx.x; i < (unsigned int)n; i += stride) {
    const double g = grads[i];
    sum += g * g;
  }
  sum = elbo4j_block_sum_double(sum, warp_sums);
  if (threadIdx.x == 0) partials[blockIdx.x] = sum;
}

// Launch: blockDim 256, gridDim 1.
extern "C" __global__ void __launch_bounds__(ELBO4J_GRAD_NORM_THREADS)
elbo4j_grad_norm_final(const double* __restrict__ partials, int partial_count, Elbo4jStepState* __restrict__ state) {
  __shared__ double warp_sums[ELBO4J_WARP];
  double sum = 0.0;
  for (int i = threadIdx.x; i < partial_count; i += blockDim.x) sum += partials[i];
  sum = elbo4j_block_sum_double(sum, warp_sums);
  if (threadIdx.x == 0) state->gradient_norm = (float)sqrt(sum);
}
