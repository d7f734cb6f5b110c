// The importance-weighted bound per data row (spec, "The importance-weighted bound"):
//
//   log_px      K x B  log p(x_b | z_kb), the likelihood kernel's per-row output for K samples per row
//   log_ratio   K x B  log p(z_kb) - log q(z_kb | x_b), the latent forward's optional output
//   log_weights K x B  log w_kb = log_px + log_ratio, rounded to float32 (null: not written)
//   bound       B      IWAE_K = logsumexp_k(log w_kb) - log K
//
// One thread per data row loops over its K samples twice: the first pass finds the largest weight, the
// second adds exp(log w - max) in double, so weights near -1e4 neither underflow to a zero sum nor
// overflow. The bound is computed from the float32 log weights it writes, so it is exactly the
// logsumexp of what the caller reads back. A NaN weight gives NaN; an infinite largest weight (or all
// weights -inf) gives that infinity. Launch: blockDim 256, gridDim ceil(B / 256).
#define ELBO4J_IWAE_THREADS 256

static __device__ __forceinline__ float elbo4j_log_weight(const float* __restrict__ log_px,
                                                          const float* __restrict__ log_ratio, size_t index) {
  return (float)((double)log_px[index] + (double)log_ratio[index]);
}

extern "C" __global__ void __launch_bounds__(ELBO4J_IWAE_THREADS, 1)
elbo4j_iwae_bound(const float* __restrict__ log_px, const float* __restrict__ log_ratio, int samples, int batch,
                  float* __restrict__ log_weights, float* __restrict__ bound) {
  const int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= batch) return;
  float largest = -INFINITY;
  bool any_nan = false;
  for (int k = 0; k < samples; ++k) {
    const size_t index = (size_t)k * batch + b;
    const float log_weight = elbo4j_log_weight(log_px, log_ratio, index);
    if (log_weights != nullptr) log_weights[index] = log_weight;
    any_nan |= isnan(log_weight);
    largest = log_weight > largest ? log_weight : largest;
  }
  if (any_nan) {
    bound[b] = NAN;
    return;
  }
  if (isinf(largest)) {
    bound[b] = largest;
    return;
  }
  double sum = 0.0;
  for (int k = 0; k < samples; ++k) {
    sum += exp((double)elbo4j_log_weight(log_px, log_ratio, (size_t)k * batch + b) - (double)largest);
  }
  bound[b] = (float)((double)largest + log(sum) - log((double)samples));
}
