// The batch loss and the mean ELBO from the per-row terms, in one block and a fixed order (so a run is
// bit-reproducible), accumulated in double (contract, "The ELBO and the loss"):
//
//   log_prob (B), kl (B)  per-row log p(x_b | z_b) and KL_b (K = 1), from the likelihood and latent kernels
//   elbo     (B)          log_prob_b - KL_b, or null
//   totals   (2)          totals[0] = loss = -(1/B) sum_b (log_prob_b - beta * KL_b)
//                         totals[1] = mean ELBO = (1/B) sum_b (log_prob_b - KL_b)   (beta = 1 always)
//
// B is a batch size (thousands): one block of 256 threads strides over it, each thread summing its rows in
// order, then a shuffle-and-shared-memory tree. Launch: blockDim 256, gridDim 1.
#include "reduce.cuh"

#define ELBO4J_ELBO_REDUCE_THREADS 256

extern "C" __global__ void __launch_bounds__(ELBO4J_ELBO_REDUCE_THREADS)
elbo4j_elbo_reduce(const float* __restrict__ log_prob, const float* __restrict__ kl, int batch, float beta,
                   float* __restrict__ elbo, float* __restrict__ totals) {
  __shared__ double partials[ELBO4J_WARP];
  double log_prob_sum = 0.0, kl_sum = 0.0;
  for (int b = threadIdx.x; b < batch; b += blockDim.x) {
    const double lp = log_prob[b], divergence = kl[b];
    log_prob_sum += lp;
    kl_sum += divergence;
    if (elbo != nullptr) elbo[b] = (float)(lp - divergence);
  }
  log_prob_sum = elbo4j_block_sum_double(log_prob_sum, partials);
  kl_sum = elbo4j_block_sum_double(kl_sum, partials);
  if (threadIdx.x == 0) {
    totals[0] = (float)(-(log_prob_sum - (double)beta * kl_sum) / batch);
    totals[1] = (float)((log_prob_sum - kl_sum) / batch);
  }
}
