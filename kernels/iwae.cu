// The importance-weighted bound per data row (contract, "The importance-weighted bound"):
//
//   log_px      K x B  log p(x_b | z_kb), the likelihood kernel's per-row output for K samples per row
//   log_ratio   K x B  log p(z_kb) - log q(z_kb | x_b), the latent forward's optional output
//   log_weights K x B  log w_kb = log_px + log_ratio, rounded to float32 (null: not written)
//   bound       B      IWAE_K = logsumexp_k(log w_kb) - log K
//
// One pass over the weights with an online log-sum-exp: a running largest weight m and, in double,
// s = sum exp(log w - m), rescaled when m grows. Subtracting the running largest keeps every exp() <= 1,
// so weights near -1e4 neither underflow to a zero sum nor overflow. The bound is computed from the
// float32 log weights it writes, so it is exactly the logsumexp of what the caller reads back. A NaN
// weight gives NaN; an infinite largest weight (or all weights -inf) gives that infinity.
//
// Launch: blockDim 256 = 8 warps x 32 lanes, gridDim ceil(B / 32). A block owns 32 consecutive rows (one
// per lane, so each warp's loads of one sample k are 128 contiguous bytes); warp w folds the samples
// k = w, w + 8, w + 16, ... of its lane's row, and warp 0 then merges the 8 partial sums in warp order:
// the result depends only on K and B, never on scheduling.
#define ELBO4J_IWAE_THREADS 256
#define ELBO4J_IWAE_ROWS_PER_BLOCK 32
#define ELBO4J_IWAE_SAMPLE_GROUPS (ELBO4J_IWAE_THREADS / ELBO4J_IWAE_ROWS_PER_BLOCK)

// A partial log-sum-exp: the largest weight seen, sum exp(w - largest) in double, and whether a NaN was seen.
struct Elbo4jLogSumExp {
  float largest;
  double sum;
  bool nan;
};

// Adds exp(weight - largest) to the partial sum, rescaling the sum when weight is the new largest.
// -inf weights add nothing (and would make exp(-inf - -inf) a NaN); an infinite largest weight decides
// the result on its own, so the sum need not stay meaningful then.
static __device__ __forceinline__ void elbo4j_lse_add(Elbo4jLogSumExp& acc, float weight) {
  if (isnan(weight)) {
    acc.nan = true;
  } else if (weight > acc.largest) {
    acc.sum = acc.sum * exp((double)acc.largest - (double)weight) + 1.0;
    acc.largest = weight;
  } else if (weight != -INFINITY) {
    acc.sum += exp((double)weight - (double)acc.largest);
  }
}

// Folds another partial into acc, in the same way.
static __device__ __forceinline__ void elbo4j_lse_merge(Elbo4jLogSumExp& acc, const Elbo4jLogSumExp& other) {
  acc.nan |= other.nan;
  if (other.largest == -INFINITY) return;  // all of other's weights were -inf: nothing to add
  if (other.largest > acc.largest) {
    acc.sum = acc.sum * exp((double)acc.largest - (double)other.largest) + other.sum;
    acc.largest = other.largest;
  } else {
    acc.sum += other.sum * exp((double)other.largest - (double)acc.largest);
  }
}

extern "C" __global__ void __launch_bounds__(ELBO4J_IWAE_THREADS)
elbo4j_iwae_bound(const float* __restrict__ log_px, const float* __restrict__ log_ratio, int samples, int batch,
                  float* __restrict__ log_weights, float* __restrict__ bound) {
  __shared__ float partial_largest[ELBO4J_IWAE_SAMPLE_GROUPS][ELBO4J_IWAE_ROWS_PER_BLOCK];
  __shared__ double partial_sum[ELBO4J_IWAE_SAMPLE_GROUPS][ELBO4J_IWAE_ROWS_PER_BLOCK];
  __shared__ bool partial_nan[ELBO4J_IWAE_SAMPLE_GROUPS][ELBO4J_IWAE_ROWS_PER_BLOCK];

  const int lane = threadIdx.x % ELBO4J_IWAE_ROWS_PER_BLOCK;
  const int group = threadIdx.x / ELBO4J_IWAE_ROWS_PER_BLOCK;
  const int b = blockIdx.x * ELBO4J_IWAE_ROWS_PER_BLOCK + lane;

  // Threads past the last row stay: every thread of the block must reach the barrier below.
  Elbo4jLogSumExp acc = {-INFINITY, 0.0, false};
  if (b < batch) {
    for (int k = group; k < samples; k += ELBO4J_IWAE_SAMPLE_GROUPS) {
      const size_t index = (size_t)k * batch + b;
      const float log_weight = (float)((double)log_px[index] + (double)log_ratio[index]);
      if (log_weights != nullptr) log_weights[index] = log_weight;
      elbo4j_lse_add(acc, log_weight);
    }
  }
  partial_largest[group][lane] = acc.largest;
  partial_sum[group][lane] = acc.sum;
  partial_nan[group][lane] = acc.nan;
  // Warp 0 reads the partials of every warp: all of them must be written first.
  __syncthreads();

  if (group != 0 || b >= batch) return;
  for (int other = 1; other < ELBO4J_IWAE_SAMPLE_GROUPS; ++other) {
    const Elbo4jLogSumExp partial = {partial_largest[other][lane], partial_sum[other][lane], partial_nan[other][lane]};
    elbo4j_lse_merge(acc, partial);
  }
  if (acc.nan) {
    bound[b] = NAN;
  } else if (isinf(acc.largest)) {
    bound[b] = acc.largest;
  } else {
    bound[b] = (float)((double)acc.largest + log(acc.sum) - log((double)samples));
  }
}
