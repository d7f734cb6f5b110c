// The batch totals of a training step, written into the step state (step_state.cuh), with the KL schedule
// (dev.elbo4j.nn.KlSchedule: beta, linear warm-up, free bits) evaluated at the state's step counter t. One
// block, every sum in double and in a fixed order (the result depends on the shape alone):
//
//   mu_logvar   B x ld        the encoder's [mu | logvar] (logvar at column L)
//   log_prob    K x B         log p(x_b | z_kb) from the likelihood kernel
//   kl          B             KL_b from the latent forward
//   kl_weights  L             output: the KL weight of each latent dimension in the latent backward
//
//   beta_t      = beta * min(1, t / warmup_steps) (in double, rounded once), or beta without warm-up
//   kl_dim[l]   = (1/B) sum_b 0.5 (mu^2 + exp(logvar) - 1 - logvar)[b][l]      (only with free bits)
//   kl_term     = free_bits > 0 ? sum_l max(free_bits, kl_dim[l]) : (1/B) sum_b kl[b]
//   loss        = -(1/(K*B)) sum log_prob + beta_t * kl_term
//   elbo        = (1/(K*B)) sum log_prob - (1/B) sum_b kl[b]                   (beta = 1)
//   kl_weights  = beta_t / B, or 0 where free bits hold the dimension (kl_dim[l] < free_bits)
// The state receives loss, elbo, the mean KL and beta_t; when the loss is finite its epoch sums grow by them and
// summed_steps by one.
//
// The sums over K*B and B rows: each thread adds rows threadIdx.x, + 256, ... in order, then the block tree of
// reduce.cuh. With free bits, one such block sum per latent dimension (L block reductions: L is small).
// Launch: blockDim 256, gridDim 1.
#include "elbo_math.cuh"
#include "reduce.cuh"
#include "step_state.cuh"

#define ELBO4J_LOSS_TOTALS_THREADS 256

extern "C" __global__ void __launch_bounds__(ELBO4J_LOSS_TOTALS_THREADS)
elbo4j_loss_totals(Elbo4jStepState* __restrict__ state, float beta, unsigned long long warmup_steps,
                   float free_bits, const float* __restrict__ mu_logvar, int ld, int batch, int latent, int samples,
                   const float* __restrict__ log_prob, const float* __restrict__ kl, float* __restrict__ kl_weights) {
  __shared__ double warp_sums[ELBO4J_WARP];
  // Read by every thread before thread 0 writes other fields of the state at the end.
  const unsigned long long t = state->step;
  const float beta_t = warmup_steps == 0 || t >= warmup_steps
                           ? beta
                           : (float)((double)beta * ((double)t / (double)warmup_steps));
  const float row_weight = (float)((double)beta_t / (double)batch);
  const int rows = samples * batch;

  double log_prob_sum = 0.0;
  for (int r = threadIdx.x; r < rows; r += blockDim.x) log_prob_sum += (double)log_prob[r];
  // Each block sum returns the same bits to every thread and ends with a barrier (warp_sums is free again).
  log_prob_sum = elbo4j_block_sum_double(log_prob_sum, warp_sums);
  double kl_sum = 0.0;
  for (int b = threadIdx.x; b < batch; b += blockDim.x) kl_sum += (double)kl[b];
  kl_sum = elbo4j_block_sum_double(kl_sum, warp_sums);
  const double mean_log_prob = log_prob_sum / (double)rows;
  const double mean_kl = kl_sum / (double)batch;

  double kl_term = mean_kl;
  if (free_bits > 0.0f) {
    const float* mu = mu_logvar;
    const float* logvar = mu_logvar + latent;
    // Every thread computes the same kl_term from the same block sums.
    kl_term = 0.0;
    for (int l = 0; l < latent; ++l) {
      double dimension = 0.0;
      for (int b = threadIdx.x; b < batch; b += blockDim.x) {
        dimension += 0.5 * elbo4j_kl_term2(mu[(size_t)b * ld + l], logvar[(size_t)b * ld + l]);
      }
      dimension = elbo4j_block_sum_double(dimension, warp_sums) / (double)batch;
      const bool held = dimension < (double)free_bits;
      kl_term += held ? (double)free_bits : dimension;
      if (threadIdx.x == 0) kl_weights[l] = held ? 0.0f : row_weight;
    }
  } else {
    for (int l = threadIdx.x; l < latent; l += blockDim.x) kl_weights[l] = row_weight;
  }

  if (threadIdx.x != 0) return;
  const float loss = (float)(-mean_log_prob + (double)beta_t * kl_term);
  const float elbo = (float)(mean_log_prob - mean_kl);
  const float mean_kl_float = (float)mean_kl;
  state->beta = beta_t;
  state->loss = loss;
  state->elbo = elbo;
  state->kl = mean_kl_float;
  if (isfinite(loss)) {
    state->loss_sum += (double)loss;
    state->elbo_sum += (double)elbo;
    state->kl_sum += (double)mean_kl_float;
    state->summed_steps += 1;
  }
}
