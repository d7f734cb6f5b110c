// The reparameterized latent layer: forward (noise, samples, KL, optional IWAE log-density ratio) and
// backward (the gradient of [mu | logvar], noise regenerated or read back from the saved samples).
//
// Shapes (contract, "Reparameterization"):
//   mu, logvar  B rows with row stride ld floats: mu[b*ld + l], logvar[b*ld + l]. The encoder's (B x 2L)
//               output [mu | logvar] is read in place with mu = out, logvar = out + L, ld = 2L.
//   z, dz       K x B x L, sample k of row b at (k*B + b)*L + l
//   eps         never stored: element n = (k*B + b)*L + l of Philox stream 0 under (seed, offset)
// The arithmetic is double (elbo_math.cuh): these tensors are small next to the decoder's B x D ones.
#include "elbo_math.cuh"
#include "philox.cuh"
#include "reduce.cuh"
#include "tile.cuh"

#define ELBO4J_LATENT_THREADS 256

// ---------------------------------------------------------------------------------------------------
// Forward. A team of T lanes (a power of two, T <= 32, chosen by the launcher from the row's work) owns
// one sample row r = k*B + b. Work items are 4 latent elements sharing one Philox call (vector layout:
// L % 4 == 0, ld % 4 == 0, 16-byte aligned mu, logvar and z) or single elements (scalar layout: any L).
// One pass: each mu/logvar element is read once per sample, each z element written once.

// kWidth = 4 (vector layout: one float4) or 1 (scalar layout) consecutive latent elements.
template <int kWidth>
static __device__ __forceinline__ void elbo4j_load_latent(const float* __restrict__ source, float (&out)[kWidth]) {
  if constexpr (kWidth == 4) {
    const float4 v = *reinterpret_cast<const float4*>(source);
    out[0] = v.x;
    out[1] = v.y;
    out[2] = v.z;
    out[3] = v.w;
  } else {
    out[0] = *source;
  }
}

template <int kWidth>
static __device__ __forceinline__ void elbo4j_store_latent(float* __restrict__ target, const float (&values)[kWidth]) {
  if constexpr (kWidth == 4) {
    *reinterpret_cast<float4*>(target) = make_float4(values[0], values[1], values[2], values[3]);
  } else {
    *target = values[0];
  }
}

// The noise of elements element .. element + kWidth - 1 (element % 4 == 0 when kWidth == 4: exactly one
// Philox call).
template <int kWidth>
static __device__ __forceinline__ void elbo4j_noise(unsigned long long seed, unsigned int offset,
                                                    unsigned long long element, float (&eps)[kWidth]) {
  if constexpr (kWidth == 4) {
    const float4 v = elbo4j_normal4(seed, offset, element >> 2);
    eps[0] = v.x;
    eps[1] = v.y;
    eps[2] = v.z;
    eps[3] = v.w;
  } else {
    eps[0] = elbo4j_normal_at(seed, offset, element);
  }
}

template <int kWidth>
static __device__ __forceinline__ void elbo4j_latent_forward_row(
    const float* __restrict__ mu_row, const float* __restrict__ logvar_row, float* __restrict__ z_row,
    unsigned long long first_element, int latent, bool first_sample, unsigned long long seed, unsigned int offset,
    int lane_in_team, int team_width, double& kl_sum, double& ratio_sum) {
  const int items = latent / kWidth;
  for (int item = lane_in_team; item < items; item += team_width) {
    const int l0 = kWidth * item;
    float mu[kWidth], logvar[kWidth], eps[kWidth], z[kWidth];
    // In the vector layout first_element = r*L is a multiple of 4, so l0 .. l0+3 is one Philox call.
    elbo4j_noise<kWidth>(seed, offset, first_element + (unsigned long long)l0, eps);
    elbo4j_load_latent<kWidth>(mu_row + l0, mu);
    elbo4j_load_latent<kWidth>(logvar_row + l0, logvar);
#pragma unroll
    for (int e = 0; e < kWidth; ++e) {
      z[e] = elbo4j_sample(mu[e], logvar[e], eps[e]);
      ratio_sum += elbo4j_log_ratio_term_m2(z[e], eps[e], logvar[e]);
      // The KL does not depend on the sample: the k = 0 team of each row adds it up.
      if (first_sample) kl_sum += elbo4j_kl_term2(mu[e], logvar[e]);
    }
    elbo4j_store_latent<kWidth>(z_row + l0, z);
  }
}

// Writes z (K x B x L), kl (B; may be null) = 0.5 sum_l (mu^2 + exp(logvar) - 1 - logvar), and
// log_ratio (K x B; may be null) = log p(z_kb) - log q(z_kb | x_b) = -0.5 sum_l (z^2 - eps^2 - logvar), the
// latent part of the IWAE log weight. offset_source (may be null) replaces offset with the word it points to (a
// training step's counter in device memory, which a captured graph reads afresh at each replay).
// Launch: blockDim 256, gridDim ceil(K*B / (256 / lanes_per_row)).
extern "C" __global__ void __launch_bounds__(ELBO4J_LATENT_THREADS, 1)
elbo4j_latent_forward(const float* __restrict__ mu, const float* __restrict__ logvar, int ld, int batch, int latent,
                      int samples, unsigned long long seed, unsigned int offset, int lanes_per_row,
                      float* __restrict__ z, float* __restrict__ kl, float* __restrict__ log_ratio,
                      const unsigned int* __restrict__ offset_source) {
  if (offset_source != nullptr) offset = *offset_source;
  const int rows_per_block = blockDim.x / lanes_per_row;
  const int lane_in_team = threadIdx.x % lanes_per_row;
  const int row = blockIdx.x * rows_per_block + threadIdx.x / lanes_per_row;
  const int rows = samples * batch;
  const bool vector_layout = latent % 4 == 0 && ld % 4 == 0 && elbo4j_aligned16(mu) && elbo4j_aligned16(logvar) &&
                             elbo4j_aligned16(z);
  double kl_sum = 0.0, ratio_sum = 0.0;
  // Teams past the last row do no work but stay for the team sums (every lane of a warp must shuffle).
  if (row < rows) {
    const int b = row % batch;
    const unsigned long long first_element = (unsigned long long)row * (unsigned long long)latent;
    const float* mu_row = mu + (size_t)b * ld;
    const float* logvar_row = logvar + (size_t)b * ld;
    float* z_row = z + first_element;
    const bool first_sample = row < batch;
    if (vector_layout) {
      elbo4j_latent_forward_row<4>(mu_row, logvar_row, z_row, first_element, latent, first_sample, seed, offset,
                                   lane_in_team, lanes_per_row, kl_sum, ratio_sum);
    } else {
      elbo4j_latent_forward_row<1>(mu_row, logvar_row, z_row, first_element, latent, first_sample, seed, offset,
                                   lane_in_team, lanes_per_row, kl_sum, ratio_sum);
    }
  }
  kl_sum = elbo4j_team_sum_double(kl_sum, lanes_per_row);
  ratio_sum = elbo4j_team_sum_double(ratio_sum, lanes_per_row);
  if (row < rows && lane_in_team == 0) {
    if (kl != nullptr && row < batch) kl[row] = (float)(0.5 * kl_sum);
    if (log_ratio != nullptr) log_ratio[row] = (float)(-0.5 * ratio_sum);
  }
}

// ---------------------------------------------------------------------------------------------------
// Backward. One thread per work item of the B x L gradient (4 elements sharing a Philox call per sample in
// the vector layout, 1 element in the scalar layout), looping over the K samples; no reduction crosses
// threads. For each element:
//   dmu     = sum_k dz_k + beta * w * mu
//   dlogvar = 0.5 * sum_k dz_k * sigma * eps_k + beta * w * 0.5 * (exp(logvar) - 1)
// sigma * eps_k is regenerated from (seed, offset) when z is null, else read back as z_k - mu.

template <int kWidth, bool kFromSamples>
static __device__ __forceinline__ void elbo4j_latent_backward_item(
    const float* __restrict__ mu, const float* __restrict__ logvar, int ld, int batch, int latent, int samples,
    unsigned long long seed, unsigned int offset, const float* __restrict__ z, const float* __restrict__ dz,
    double kl_weight, const float* __restrict__ kl_weights, float* __restrict__ dmu, float* __restrict__ dlogvar,
    int ldg, int item) {
  const int items_per_row = latent / kWidth;
  const int b = item / items_per_row;
  const int l0 = kWidth * (item % items_per_row);
  float m[kWidth], s[kWidth];
  elbo4j_load_latent<kWidth>(mu + (size_t)b * ld + l0, m);
  elbo4j_load_latent<kWidth>(logvar + (size_t)b * ld + l0, s);
  double sum_dz[kWidth], sum_dz_sigma_eps[kWidth];
#pragma unroll
  for (int e = 0; e < kWidth; ++e) sum_dz[e] = sum_dz_sigma_eps[e] = 0.0;
  for (int k = 0; k < samples; ++k) {
    const unsigned long long element =
        ((unsigned long long)k * (unsigned long long)batch + (unsigned long long)b) * (unsigned long long)latent +
        (unsigned long long)l0;
    float g[kWidth], v[kWidth];
    elbo4j_load_latent<kWidth>(dz + element, g);
    if (kFromSamples) {
      elbo4j_load_latent<kWidth>(z + element, v);
    } else {
      elbo4j_noise<kWidth>(seed, offset, element, v);
    }
#pragma unroll
    for (int e = 0; e < kWidth; ++e) {
      // z - mu of two floats is exact in double: the saved sample's sigma * eps as the decoder saw it.
      const double sigma_eps = kFromSamples ? (double)v[e] - (double)m[e] : elbo4j_sigma_eps(s[e], v[e]);
      sum_dz[e] += (double)g[e];
      sum_dz_sigma_eps[e] += (double)g[e] * sigma_eps;
    }
  }
  float grad_mu[kWidth], grad_logvar[kWidth];
#pragma unroll
  for (int e = 0; e < kWidth; ++e) {
    const double weight = kl_weights != nullptr ? (double)kl_weights[l0 + e] : kl_weight;
    const float2 grad = elbo4j_latent_grad(sum_dz[e], sum_dz_sigma_eps[e], m[e], s[e], weight);
    grad_mu[e] = grad.x;
    grad_logvar[e] = grad.y;
  }
  elbo4j_store_latent<kWidth>(dmu + (size_t)b * ldg + l0, grad_mu);
  elbo4j_store_latent<kWidth>(dlogvar + (size_t)b * ldg + l0, grad_logvar);
}

template <int kWidth, bool kFromSamples>
static __device__ __forceinline__ void elbo4j_latent_backward_items(
    const float* __restrict__ mu, const float* __restrict__ logvar, int ld, int batch, int latent, int samples,
    unsigned long long seed, unsigned int offset, const float* __restrict__ z, const float* __restrict__ dz,
    double kl_weight, const float* __restrict__ kl_weights, float* __restrict__ dmu, float* __restrict__ dlogvar,
    int ldg) {
  const int items = batch * (latent / kWidth);
  // Grid-stride: any grid is correct (the launcher sizes it for the vector layout; a misaligned view that
  // falls back to the scalar layout gives each thread up to 4 items).
  for (int item = blockIdx.x * blockDim.x + threadIdx.x; item < items; item += gridDim.x * blockDim.x) {
    elbo4j_latent_backward_item<kWidth, kFromSamples>(mu, logvar, ld, batch, latent, samples, seed, offset, z, dz,
                                                      kl_weight, kl_weights, dmu, dlogvar, ldg, item);
  }
}

// Writes dmu and dlogvar (B rows with row stride ldg: the encoder output's gradient [dmu | dlogvar] is
// written in place with dmu = grad, dlogvar = grad + L, ldg = 2L). z (K x B x L) may be null: the noise is
// then regenerated from (seed, offset). kl weight = beta * row_weight (row_weight = 1/B for a batch mean), or
// kl_weights[l] per latent dimension when kl_weights (L) is not null (a training step's weights in device memory:
// warm-up and free bits). offset_source (may be null) replaces offset with the word it points to.
// Launch: blockDim 256, gridDim ceil(B * items / 256) with items = L/4 (L % 4 == 0) or L.
extern "C" __global__ void __launch_bounds__(ELBO4J_LATENT_THREADS, 1)
elbo4j_latent_backward(const float* __restrict__ mu, const float* __restrict__ logvar, int ld, int batch, int latent,
                       int samples, unsigned long long seed, unsigned int offset, const float* __restrict__ z,
                       const float* __restrict__ dz, float beta, float row_weight, float* __restrict__ dmu,
                       float* __restrict__ dlogvar, int ldg, const unsigned int* __restrict__ offset_source,
                       const float* __restrict__ kl_weights) {
  if (offset_source != nullptr) offset = *offset_source;
  const bool vector_layout = latent % 4 == 0 && ld % 4 == 0 && ldg % 4 == 0 && elbo4j_aligned16(mu) &&
                             elbo4j_aligned16(logvar) && elbo4j_aligned16(dz) &&
                             (z == nullptr || elbo4j_aligned16(z)) && elbo4j_aligned16(dmu) &&
                             elbo4j_aligned16(dlogvar);
  // beta and w are floats: their product is exact in double, as in the reference.
  const double kl_weight = (double)beta * (double)row_weight;
  if (vector_layout) {
    if (z != nullptr) {
      elbo4j_latent_backward_items<4, true>(mu, logvar, ld, batch, latent, samples, seed, offset, z, dz, kl_weight,
                                            kl_weights, dmu, dlogvar, ldg);
    } else {
      elbo4j_latent_backward_items<4, false>(mu, logvar, ld, batch, latent, samples, seed, offset, z, dz, kl_weight,
                                             kl_weights, dmu, dlogvar, ldg);
    }
  } else {
    if (z != nullptr) {
      elbo4j_latent_backward_items<1, true>(mu, logvar, ld, batch, latent, samples, seed, offset, z, dz, kl_weight,
                                            kl_weights, dmu, dlogvar, ldg);
    } else {
      elbo4j_latent_backward_items<1, false>(mu, logvar, ld, batch, latent, samples, seed, offset, z, dz, kl_weight,
                                             kl_weights, dmu, dlogvar, ldg);
    }
  }
}
