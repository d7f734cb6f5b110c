// The per-element formulas of docs/numerical-contract.md, shared by the fused kernels and the unfused baseline so
// that both compute the same numbers. Everything here is a pure function of its arguments.
//
// Precision choices (the CPU reference computes in double and rounds each output once to float32):
// - The latent kernels (B x L and K x B x L elements: small) evaluate in double, so z and the gradient of
//   logvar match the reference even where 0.5*dz*sigma*eps and the KL term nearly cancel at large sigma.
// - The reconstruction kernels (B x D: the bandwidth-bound ones) evaluate each element in float32 (the
//   Bernoulli term rearranged so that its two parts never cancel) and accumulate row sums in double.
#pragma once

#include <cfloat>

#define ELBO4J_LOG_2PI 1.8378770664093454836

// ---------------------------------------------------------------------------------------------------
// Reparameterization and the KL to N(0, I), in double.

// sigma * eps with sigma = exp(0.5 * logvar).
static __device__ __forceinline__ double elbo4j_sigma_eps(float logvar, float eps) {
  return exp(0.5 * (double)logvar) * (double)eps;
}

// z = mu + sigma * eps, rounded once to float32 (the reference's sampleOf).
static __device__ __forceinline__ float elbo4j_sample(float mu, float logvar, float eps) {
  return (float)((double)mu + elbo4j_sigma_eps(logvar, eps));
}

// 2 * KL term of one latent element: mu^2 + exp(logvar) - 1 - logvar (>= 0). expm1 keeps the
// exp(logvar) - 1 part accurate near logvar = 0.
static __device__ __forceinline__ double elbo4j_kl_term2(float mu, float logvar) {
  const double m = mu, s = logvar;
  return m * m + (expm1(s) - s);
}

// log p(z) - log q(z | x) of one element, times -2: z^2 - eps^2 - logvar (the log 2 pi terms cancel).
// z is the float32 sample the decoder sees.
static __device__ __forceinline__ double elbo4j_log_ratio_term_m2(float z, float eps, float logvar) {
  const double zd = z, ed = eps;
  return zd * zd - ed * ed - (double)logvar;
}

// The gradient of the loss with respect to mu and logvar of one latent element, given the sums over the
// K samples of dz and of dz * sigma * eps (contract, "Backward"):
//   dmu     = sum_k dz + beta * w * mu
//   dlogvar = 0.5 * sum_k dz * sigma * eps + beta * w * 0.5 * (exp(logvar) - 1)
static __device__ __forceinline__ float2 elbo4j_latent_grad(double sum_dz, double sum_dz_sigma_eps, float mu,
                                                            float logvar, double kl_weight) {
  const float dmu = (float)(sum_dz + kl_weight * (double)mu);
  const float dlogvar = (float)(0.5 * sum_dz_sigma_eps + kl_weight * 0.5 * expm1((double)logvar));
  return make_float2(dmu, dlogvar);
}

// ---------------------------------------------------------------------------------------------------
// Bernoulli with logits, in float32.

struct Elbo4jBernoulli {
  float log_prob;  // x * l - softplus(l), <= 0
  float sigmoid;   // 1 / (1 + exp(-l))
};

// x * l - softplus(l) with softplus(l) = max(l, 0) + log1p(exp(-|l|)), rearranged as
// (x - [l > 0]) * l - log1p(exp(-|l|)): both parts are <= 0 for x in [0, 1], so nothing cancels and the
// float result is good to a few ulp even at |l| > 30 where x*l and softplus(l) are nearly equal.
// One exp serves the softplus and the sigmoid, each stable for both signs.
// Infinite logits take their limits (contract, "Bernoulli"): a certain outcome, 0 where x is that outcome
// (x = 1 at l = +inf, x = 0 at l = -inf) and -inf otherwise; the sigmoid is 1 or 0. So (x - [l > 0]) * l is
// 0 when its first factor is, never 0 * inf.
static __device__ __forceinline__ Elbo4jBernoulli elbo4j_bernoulli(float logit, float x) {
  const float e = expf(-fabsf(logit));
  const float inv = 1.0f / (1.0f + e);
  const float miss = logit > 0.0f ? x - 1.0f : x;
  Elbo4jBernoulli out;
  out.log_prob = (miss == 0.0f ? 0.0f : miss * logit) - log1pf(e);
  out.sigmoid = logit >= 0.0f ? inv : e * inv;
  return out;
}

// x * l - softplus(l) from a softplus computed apart (the unfused baseline), with the same limits at
// infinite logits as elbo4j_bernoulli.
static __device__ __forceinline__ float elbo4j_bernoulli_term(float logit, float x, float softplus) {
  if (isinf(logit)) return x == (logit > 0.0f ? 1.0f : 0.0f) ? 0.0f : -INFINITY;
  return x * logit - softplus;
}

// softplus(l), stable for both signs (the unfused baseline's elementwise kernel).
static __device__ __forceinline__ float elbo4j_softplus(float logit) {
  return fmaxf(logit, 0.0f) + log1pf(expf(-fabsf(logit)));
}

// sigmoid(l), stable for both signs.
static __device__ __forceinline__ float elbo4j_sigmoid(float logit) {
  const float e = expf(-fabsf(logit));
  const float inv = 1.0f / (1.0f + e);
  return logit >= 0.0f ? inv : e * inv;
}

// A pixel as a target: p / 255 (a float32 division, exactly the reference's value).
static __device__ __forceinline__ float elbo4j_pixel_value(unsigned int pixel) {
  return (float)pixel / 255.0f;
}

// Dynamic binarization: 1 if u <= x else 0 (u in (0, 1] from stream 1), so x = 1 is always 1 and x = 0
// always 0.
static __device__ __forceinline__ float elbo4j_binarize(float x, float u) {
  return u <= x ? 1.0f : 0.0f;
}

// ---------------------------------------------------------------------------------------------------
// Gaussian with mean m and log-variance s, in float32.

struct Elbo4jGaussian {
  double log_term;    // s + (x - m)^2 exp(-s): the element's -2 log p less log(2 pi), added to the row sum in double
  float grad_mean;    // mean_scale * (m - x) exp(-s) = -mean_scale * d log p / dm
  float grad_logvar;  // logvar_scale * 0.5 (1 - (x - m)^2 exp(-s)) = -logvar_scale * d log p / ds
};

// A product that is 0 when a factor is 0, even when another is infinite (0 * inf is NaN in IEEE arithmetic,
// but the factor that overflowed, exp(-s), is finite in the formula).
static __device__ __forceinline__ double elbo4j_product(double a, double b) {
  return a == 0.0 || b == 0.0 ? 0.0 : a * b;
}

// One element, finite wherever the formula's value is (contract, "Gaussian"): every finite m, x and s. The fast
// path is float32; (m - x)^2 exp(-s) is formed as (m - x) * ((m - x) exp(-s)) so that neither (m - x)^2 nor
// exp(-s) alone need fit a float. Where exp(-s) is not a normal float (|s| above about 87: s < -88.7 overflows
// it, s > 87.3 leaves it without precision) or a product overflows, the element is evaluated in double from the
// same inputs, as the CPU reference does; x = m then gives a weighted square of 0, never 0 * inf. The scales are
// applied before the float rounding, so a gradient that is finite only once scaled stays finite.
static __device__ __forceinline__ Elbo4jGaussian elbo4j_gaussian(float mean, float x, float logvar, float mean_scale,
                                                                float logvar_scale) {
  const float precision = expf(-logvar);
  const float diff = mean - x;
  const float scaled_diff = diff * precision;
  const float weighted_square = diff * scaled_diff;
  Elbo4jGaussian out;
  if (precision >= FLT_MIN && precision <= FLT_MAX && isfinite(weighted_square)) {
    out.log_term = (double)logvar + (double)weighted_square;
    out.grad_mean = mean_scale * scaled_diff;
    out.grad_logvar = logvar_scale * (0.5f * (1.0f - weighted_square));
  } else {
    const double p = exp(-(double)logvar);
    const double d = (double)mean - (double)x;
    const double scaled = elbo4j_product(d, p);
    const double square = elbo4j_product(d, scaled);
    out.log_term = (double)logvar + square;
    out.grad_mean = (float)elbo4j_product((double)mean_scale, scaled);
    out.grad_logvar = (float)elbo4j_product((double)logvar_scale, 0.5 * (1.0 - square));
  }
  return out;
}
