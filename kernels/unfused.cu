// The unfused baseline: the same math as the fused kernels, as a sequence of one-purpose kernels that each
// read their inputs from device memory and write one output back, the way an eager framework runs it.
// The benchmarks run these sequences beside the fused kernels to show what fusion saves; the tests hold
// them to the same tolerances. The per-element formulas are shared with the fused kernels (elbo_math.cuh,
// philox.cuh); what differs is that every intermediate is a float32 tensor in memory.
//
// Elementwise kernels walk their flat range in quads of 4 elements: a float4 access when every array is
// 16-byte aligned (and, for a kernel that reads a B x D data row for each of K*B rows, D % 4 == 0, so a
// quad never straddles rows), else four scalar accesses. Grid-stride loops: any grid is correct.
// Launch: blockDim 256, gridDim ceil(ceil(count / 4) / 256) unless stated.
#include "elbo_math.cuh"
#include "philox.cuh"
#include "reduce.cuh"
#include "tile.cuh"

#define ELBO4J_UNFUSED_THREADS 256

// ---------------------------------------------------------------------------------------------------
// Quads: elements 4q .. 4q+3 of a flat array of `count` floats (zeros past the end, which are not stored).

struct Elbo4jQuad {
  float v[4];
};

static __device__ __forceinline__ Elbo4jQuad elbo4j_load_quad(const float* __restrict__ source, size_t first,
                                                              size_t count, bool vector) {
  Elbo4jQuad quad;
  if (vector && first + 3 < count) {
    const float4 v = *reinterpret_cast<const float4*>(source + first);
    quad.v[0] = v.x;
    quad.v[1] = v.y;
    quad.v[2] = v.z;
    quad.v[3] = v.w;
  } else {
#pragma unroll
    for (int e = 0; e < 4; ++e) quad.v[e] = first + e < count ? source[first + e] : 0.0f;
  }
  return quad;
}

static __device__ __forceinline__ void elbo4j_store_quad(float* __restrict__ target, size_t first, size_t count,
                                                         bool vector, const Elbo4jQuad& quad) {
  if (vector && first + 3 < count) {
    *reinterpret_cast<float4*>(target + first) = make_float4(quad.v[0], quad.v[1], quad.v[2], quad.v[3]);
  } else {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      if (first + e < count) target[first + e] = quad.v[e];
    }
  }
}

// The data element that element i of a (K*B) x D tensor is scored against: x[(i / D) % B][i % D].
static __device__ __forceinline__ size_t elbo4j_data_index(size_t i, int batch, int dims) {
  return ((i / dims) % batch) * dims + i % dims;
}

// Quad of the data row elements matching elements first .. first+3 of a (K*B) x D tensor.
static __device__ __forceinline__ Elbo4jQuad elbo4j_load_data_quad(const float* __restrict__ x, size_t first,
                                                                   size_t count, int batch, int dims, bool vector) {
  Elbo4jQuad quad;
  if (vector && first + 3 < count) {
    const float4 v = *reinterpret_cast<const float4*>(x + elbo4j_data_index(first, batch, dims));
    quad.v[0] = v.x;
    quad.v[1] = v.y;
    quad.v[2] = v.z;
    quad.v[3] = v.w;
  } else {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      quad.v[e] = first + e < count ? x[elbo4j_data_index(first + e, batch, dims)] : 0.0f;
    }
  }
  return quad;
}

#define ELBO4J_FOR_EACH_QUAD(quad_index, count)                                                          \
  for (size_t quad_index = (size_t)blockIdx.x * blockDim.x + threadIdx.x; 4 * quad_index < (size_t)(count); \
       quad_index += (size_t)gridDim.x * blockDim.x)

// out[i] = op(in[i]) for `count` elements: the body of the one-input elementwise kernels.
template <typename Op>
static __device__ __forceinline__ void elbo4j_map_quads(const float* __restrict__ in, int count,
                                                        float* __restrict__ out, Op op) {
  const bool vector = elbo4j_aligned16(in) && elbo4j_aligned16(out);
  ELBO4J_FOR_EACH_QUAD(q, count) {
    Elbo4jQuad quad = elbo4j_load_quad(in, 4 * q, count, vector);
#pragma unroll
    for (int e = 0; e < 4; ++e) quad.v[e] = op(quad.v[e]);
    elbo4j_store_quad(out, 4 * q, count, vector, quad);
  }
}

// out[i] = op(a[i], b[i]) for `count` elements: the body of the two-input elementwise kernels.
template <typename Op>
static __device__ __forceinline__ void elbo4j_zip_quads(const float* __restrict__ a, const float* __restrict__ b,
                                                        int count, float* __restrict__ out, Op op) {
  const bool vector = elbo4j_aligned16(a) && elbo4j_aligned16(b) && elbo4j_aligned16(out);
  ELBO4J_FOR_EACH_QUAD(q, count) {
    const Elbo4jQuad x = elbo4j_load_quad(a, 4 * q, count, vector);
    const Elbo4jQuad y = elbo4j_load_quad(b, 4 * q, count, vector);
    Elbo4jQuad result;
#pragma unroll
    for (int e = 0; e < 4; ++e) result.v[e] = op(x.v[e], y.v[e]);
    elbo4j_store_quad(out, 4 * q, count, vector, result);
  }
}

// ---------------------------------------------------------------------------------------------------
// Noise.

// eps[n] = standard normal n of stream 0 under (seed, offset), n in [0, count). One thread per Philox call.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_normal_noise(float* __restrict__ eps, int count, unsigned long long seed, unsigned int offset) {
  const bool vector = elbo4j_aligned16(eps);
  ELBO4J_FOR_EACH_QUAD(q, count) {
    const float4 normals = elbo4j_normal4(seed, offset, q);
    Elbo4jQuad quad;
    quad.v[0] = normals.x;
    quad.v[1] = normals.y;
    quad.v[2] = normals.z;
    quad.v[3] = normals.w;
    elbo4j_store_quad(eps, 4 * q, count, vector, quad);
  }
}

// u[n] = uniform n of `stream` under (seed, offset), in (0, 1]. One thread per Philox call.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_uniform_noise(float* __restrict__ u, int count, unsigned long long seed, unsigned int offset,
                             unsigned int stream) {
  const bool vector = elbo4j_aligned16(u);
  ELBO4J_FOR_EACH_QUAD(q, count) {
    const uint4 words = elbo4j_philox_words(seed, offset, stream, q);
    Elbo4jQuad quad;
    quad.v[0] = elbo4j_uniform(words.x);
    quad.v[1] = elbo4j_uniform(words.y);
    quad.v[2] = elbo4j_uniform(words.z);
    quad.v[3] = elbo4j_uniform(words.w);
    elbo4j_store_quad(u, 4 * q, count, vector, quad);
  }
}

// ---------------------------------------------------------------------------------------------------
// Latent forward: reparameterize, KL terms, IWAE log-ratio terms (then elbo4j_unfused_row_sum).
// mu, logvar: B rows with row stride ld. Latent tensors K x B x L; n = (k*B + b)*L + l. One thread per
// element (the latent tensors are small); blockDim 256, gridDim ceil(count / 256).

#define ELBO4J_FOR_EACH_ELEMENT(index, count)                                                             \
  for (size_t index = (size_t)blockIdx.x * blockDim.x + threadIdx.x; index < (size_t)(count);             \
       index += (size_t)gridDim.x * blockDim.x)

// z = mu + exp(0.5 logvar) * eps, K x B x L.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_reparameterize(const float* __restrict__ mu, const float* __restrict__ logvar, int ld,
                              const float* __restrict__ eps, int batch, int latent, int samples,
                              float* __restrict__ z) {
  ELBO4J_FOR_EACH_ELEMENT(n, (size_t)samples * batch * latent) {
    const size_t source = ((n / latent) % batch) * ld + n % latent;
    z[n] = elbo4j_sample(mu[source], logvar[source], eps[n]);
  }
}

// terms[b][l] = 0.5 (mu^2 + exp(logvar) - 1 - logvar), B x L.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_kl_terms(const float* __restrict__ mu, const float* __restrict__ logvar, int ld, int batch,
                        int latent, float* __restrict__ terms) {
  ELBO4J_FOR_EACH_ELEMENT(i, (size_t)batch * latent) {
    const size_t source = (i / latent) * ld + i % latent;
    terms[i] = (float)(0.5 * elbo4j_kl_term2(mu[source], logvar[source]));
  }
}

// terms[k][b][l] = -0.5 (z^2 - eps^2 - logvar): the elements of log p(z) - log q(z | x), K x B x L.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_log_ratio_terms(const float* __restrict__ z, const float* __restrict__ eps,
                               const float* __restrict__ logvar, int ld, int batch, int latent, int samples,
                               float* __restrict__ terms) {
  ELBO4J_FOR_EACH_ELEMENT(n, (size_t)samples * batch * latent) {
    const size_t source = ((n / latent) % batch) * ld + n % latent;
    terms[n] = (float)(-0.5 * elbo4j_log_ratio_term_m2(z[n], eps[n], logvar[source]));
  }
}

// ---------------------------------------------------------------------------------------------------
// Latent backward: sigma * eps (regenerated noise or saved samples), products, sums over the samples,
// then the gradient.

// out = exp(0.5 logvar) * eps, K x B x L.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_sigma_eps(const float* __restrict__ logvar, int ld, const float* __restrict__ eps, int batch,
                         int latent, int samples, float* __restrict__ out) {
  ELBO4J_FOR_EACH_ELEMENT(n, (size_t)samples * batch * latent) {
    out[n] = (float)elbo4j_sigma_eps(logvar[((n / latent) % batch) * ld + n % latent], eps[n]);
  }
}

// out = z - mu (sigma * eps as the decoder saw it), K x B x L.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_sample_offset(const float* __restrict__ z, const float* __restrict__ mu, int ld, int batch,
                             int latent, int samples, float* __restrict__ out) {
  ELBO4J_FOR_EACH_ELEMENT(n, (size_t)samples * batch * latent) {
    out[n] = (float)((double)z[n] - (double)mu[((n / latent) % batch) * ld + n % latent]);
  }
}

// dmu = gz + beta * w * mu, dlogvar = 0.5 * gz_sigma_eps + beta * w * 0.5 * (exp(logvar) - 1), where gz and
// gz_sigma_eps (B x L) are the sums over the samples of dz and dz * sigma * eps. Outputs: B rows, stride ldg.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_latent_grad(const float* __restrict__ gz, const float* __restrict__ gz_sigma_eps,
                           const float* __restrict__ mu, const float* __restrict__ logvar, int ld, int batch,
                           int latent, float beta, float row_weight, float* __restrict__ dmu,
                           float* __restrict__ dlogvar, int ldg) {
  const double kl_weight = (double)beta * (double)row_weight;
  ELBO4J_FOR_EACH_ELEMENT(i, (size_t)batch * latent) {
    const size_t source = (i / latent) * ld + i % latent;
    const size_t target = (i / latent) * ldg + i % latent;
    const float2 grad = elbo4j_latent_grad(gz[i], gz_sigma_eps[i], mu[source], logvar[source], kl_weight);
    dmu[target] = grad.x;
    dlogvar[target] = grad.y;
  }
}

// ---------------------------------------------------------------------------------------------------
// Generic elementwise and reduction kernels.

// out = a * b, count elements.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_multiply(const float* __restrict__ a, const float* __restrict__ b, int count, float* __restrict__ out) {
  elbo4j_zip_quads(a, b, count, out, [](float x, float y) { return x * y; });
}

// out = a + b (rounded once from double), count elements.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_add(const float* __restrict__ a, const float* __restrict__ b, int count, float* __restrict__ out) {
  elbo4j_zip_quads(a, b, count, out, [](float x, float y) { return (float)((double)x + (double)y); });
}

// out[i] = scale * in[i], count elements.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_scale(const float* __restrict__ in, int count, float scale, float* __restrict__ out) {
  elbo4j_map_quads(in, count, out, [scale](float v) { return (float)((double)scale * (double)v); });
}

// out[r] = sum_c in[r][c] for a rows x cols matrix: one warp per row (8 rows per block), double
// accumulation, a shuffle tree. Launch: blockDim 256, gridDim ceil(rows / 8).
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_row_sum(const float* __restrict__ in, int rows, int cols, float* __restrict__ out) {
  const int lane = threadIdx.x % ELBO4J_WARP;
  const int row = blockIdx.x * (ELBO4J_UNFUSED_THREADS / ELBO4J_WARP) + threadIdx.x / ELBO4J_WARP;
  if (row >= rows) return;  // warp-uniform
  const bool vector = cols % 4 == 0 && elbo4j_aligned16(in);
  const float* row_start = in + (size_t)row * cols;
  double sum = 0.0;
  for (int tile = 0; tile < cols; tile += ELBO4J_TILE_COLUMNS) {
    float v[4];
    if (vector) {
      elbo4j_tile_load<true>(row_start, tile, lane, cols, v);
    } else {
      elbo4j_tile_load<false>(row_start, tile, lane, cols, v);
    }
    sum += (double)v[0] + (double)v[1] + (double)v[2] + (double)v[3];
  }
  sum = elbo4j_warp_sum_double(sum);
  if (lane == 0) out[row] = (float)sum;
}

// out[c] = sum_r in[r][c] for a rows x cols matrix (fixed order, reduce.cuh).
// Launch: blockDim 256, gridDim ceil(cols / 32).
extern "C" __global__ void __launch_bounds__(ELBO4J_COLUMN_SUM_COLUMNS * ELBO4J_COLUMN_SUM_SLICES)
elbo4j_unfused_column_sum(const float* __restrict__ in, int rows, int cols, float* __restrict__ out) {
  __shared__ double slice_sums[ELBO4J_COLUMN_SUM_SLICES][ELBO4J_COLUMN_SUM_COLUMNS];
  elbo4j_column_sum(in, rows, cols, out, slice_sums);
}

// out[i] = sum_k in[k][i] for a K x N tensor (the sum over the samples). One thread per i.
// Launch: blockDim 256, gridDim ceil(N / 256).
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_sum_samples(const float* __restrict__ in, int samples, int count, float* __restrict__ out) {
  ELBO4J_FOR_EACH_ELEMENT(i, count) {
    double sum = 0.0;
    for (int k = 0; k < samples; ++k) sum += in[(size_t)k * count + i];
    out[i] = (float)sum;
  }
}

// ---------------------------------------------------------------------------------------------------
// Bernoulli: pixels to floats, binarization, softplus, x * l - softplus(l), sigmoid, the gradient.

// x[i] = p[i] / 255.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_pixels_to_float(const unsigned char* __restrict__ pixels, int count, float* __restrict__ x) {
  const bool vector = elbo4j_aligned4(pixels) && elbo4j_aligned16(x);
  ELBO4J_FOR_EACH_QUAD(q, count) {
    const size_t first = 4 * q;
    Elbo4jQuad quad;
    if (vector && first + 3 < (size_t)count) {
      const uchar4 p = *reinterpret_cast<const uchar4*>(pixels + first);
      quad.v[0] = elbo4j_pixel_value(p.x);
      quad.v[1] = elbo4j_pixel_value(p.y);
      quad.v[2] = elbo4j_pixel_value(p.z);
      quad.v[3] = elbo4j_pixel_value(p.w);
    } else {
#pragma unroll
      for (int e = 0; e < 4; ++e) quad.v[e] = first + e < (size_t)count ? elbo4j_pixel_value(pixels[first + e]) : 0.0f;
    }
    elbo4j_store_quad(x, first, count, vector, quad);
  }
}

// out[i] = 1 if u[i] < x[i] else 0.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_binarize(const float* __restrict__ x, const float* __restrict__ u, int count,
                        float* __restrict__ out) {
  elbo4j_zip_quads(x, u, count, out, [](float value, float uniform) { return elbo4j_binarize(value, uniform); });
}

// out = softplus(l), count elements.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_softplus(const float* __restrict__ logits, int count, float* __restrict__ out) {
  elbo4j_map_quads(logits, count, out, [](float l) { return elbo4j_softplus(l); });
}

// out = sigmoid(l), count elements.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_sigmoid(const float* __restrict__ logits, int count, float* __restrict__ out) {
  elbo4j_map_quads(logits, count, out, [](float l) { return elbo4j_sigmoid(l); });
}

// terms = x * l - softplus(l) for (K*B) x D logits against B x D data (row r against data row r % B).
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_bernoulli_terms(const float* __restrict__ logits, const float* __restrict__ x,
                               const float* __restrict__ softplus, int rows, int batch, int dims,
                               float* __restrict__ terms) {
  const size_t count = (size_t)rows * dims;
  const bool vector = dims % 4 == 0 && elbo4j_aligned16(logits) && elbo4j_aligned16(x) &&
                      elbo4j_aligned16(softplus) && elbo4j_aligned16(terms);
  ELBO4J_FOR_EACH_QUAD(q, count) {
    const Elbo4jQuad l = elbo4j_load_quad(logits, 4 * q, count, vector);
    const Elbo4jQuad target = elbo4j_load_data_quad(x, 4 * q, count, batch, dims, vector);
    Elbo4jQuad term = elbo4j_load_quad(softplus, 4 * q, count, vector);
#pragma unroll
    for (int e = 0; e < 4; ++e) term.v[e] = elbo4j_bernoulli_term(l.v[e], target.v[e], term.v[e]);
    elbo4j_store_quad(terms, 4 * q, count, vector, term);
  }
}

// grad = scale * (sigmoid(l) - x) from the sigmoids, (K*B) x D against B x D data.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_bernoulli_grad(const float* __restrict__ sigmoid, const float* __restrict__ x, int rows, int batch,
                              int dims, float scale, float* __restrict__ grad) {
  const size_t count = (size_t)rows * dims;
  const bool vector = dims % 4 == 0 && elbo4j_aligned16(sigmoid) && elbo4j_aligned16(x) && elbo4j_aligned16(grad);
  ELBO4J_FOR_EACH_QUAD(q, count) {
    Elbo4jQuad g = elbo4j_load_quad(sigmoid, 4 * q, count, vector);
    const Elbo4jQuad target = elbo4j_load_data_quad(x, 4 * q, count, batch, dims, vector);
#pragma unroll
    for (int e = 0; e < 4; ++e) g.v[e] = scale * (g.v[e] - target.v[e]);
    elbo4j_store_quad(grad, 4 * q, count, vector, g);
  }
}

// ---------------------------------------------------------------------------------------------------
// Gaussian: terms, gradient of the mean, gradient terms of the log-variance (then row and column sums).
// logvar as in gaussian.cu: null -> logvar_fixed; row stride 0 -> a D vector; row stride D -> (K*B) x D.

static __device__ __forceinline__ Elbo4jQuad elbo4j_load_logvar_quad(const float* __restrict__ logvar,
                                                                     float logvar_fixed, int logvar_row_stride,
                                                                     size_t first, size_t count, int dims,
                                                                     bool vector) {
  Elbo4jQuad quad;
  if (logvar == nullptr) {
#pragma unroll
    for (int e = 0; e < 4; ++e) quad.v[e] = logvar_fixed;
  } else if (logvar_row_stride == 0) {
    // The D vector: element i of the (K*B) x D tensor uses logvar[i % D] (quads never straddle rows when
    // vector, because D % 4 == 0 then).
    if (vector && first + 3 < count) {
      const float4 v = *reinterpret_cast<const float4*>(logvar + first % dims);
      quad.v[0] = v.x;
      quad.v[1] = v.y;
      quad.v[2] = v.z;
      quad.v[3] = v.w;
    } else {
#pragma unroll
      for (int e = 0; e < 4; ++e) quad.v[e] = first + e < count ? logvar[(first + e) % dims] : 0.0f;
    }
  } else {
    quad = elbo4j_load_quad(logvar, first, count, vector);
  }
  return quad;
}

// terms = -0.5 (log(2 pi) + s + (x - m)^2 exp(-s)), (K*B) x D.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_gaussian_terms(const float* __restrict__ mean, const float* __restrict__ x,
                              const float* __restrict__ logvar, float logvar_fixed, int logvar_row_stride, int rows,
                              int batch, int dims, float* __restrict__ terms) {
  const size_t count = (size_t)rows * dims;
  const bool vector = dims % 4 == 0 && elbo4j_aligned16(mean) && elbo4j_aligned16(x) &&
                      (logvar == nullptr || elbo4j_aligned16(logvar)) && elbo4j_aligned16(terms);
  ELBO4J_FOR_EACH_QUAD(q, count) {
    const Elbo4jQuad m = elbo4j_load_quad(mean, 4 * q, count, vector);
    const Elbo4jQuad target = elbo4j_load_data_quad(x, 4 * q, count, batch, dims, vector);
    const Elbo4jQuad s = elbo4j_load_logvar_quad(logvar, logvar_fixed, logvar_row_stride, 4 * q, count, dims, vector);
    Elbo4jQuad term;
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const Elbo4jGaussian element = elbo4j_gaussian(m.v[e], target.v[e], s.v[e], 0.0f, 0.0f);
      term.v[e] = (float)(-0.5 * (ELBO4J_LOG_2PI + element.log_term));
    }
    elbo4j_store_quad(terms, 4 * q, count, vector, term);
  }
}

// grad_mean = scale * (m - x) exp(-s) and grad_logvar_terms = logvar_scale * 0.5 (1 - (x - m)^2 exp(-s)),
// both (K*B) x D, each written unless null.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_gaussian_grads(const float* __restrict__ mean, const float* __restrict__ x,
                              const float* __restrict__ logvar, float logvar_fixed, int logvar_row_stride, int rows,
                              int batch, int dims, float scale, float* __restrict__ grad_mean,
                              float logvar_scale, float* __restrict__ grad_logvar_terms) {
  const size_t count = (size_t)rows * dims;
  const bool vector = dims % 4 == 0 && elbo4j_aligned16(mean) && elbo4j_aligned16(x) &&
                      (logvar == nullptr || elbo4j_aligned16(logvar)) &&
                      (grad_mean == nullptr || elbo4j_aligned16(grad_mean)) &&
                      (grad_logvar_terms == nullptr || elbo4j_aligned16(grad_logvar_terms));
  ELBO4J_FOR_EACH_QUAD(q, count) {
    const Elbo4jQuad m = elbo4j_load_quad(mean, 4 * q, count, vector);
    const Elbo4jQuad target = elbo4j_load_data_quad(x, 4 * q, count, batch, dims, vector);
    const Elbo4jQuad s = elbo4j_load_logvar_quad(logvar, logvar_fixed, logvar_row_stride, 4 * q, count, dims, vector);
    Elbo4jQuad dm, ds;
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const Elbo4jGaussian element = elbo4j_gaussian(m.v[e], target.v[e], s.v[e], scale, logvar_scale);
      dm.v[e] = element.grad_mean;
      ds.v[e] = element.grad_logvar;
    }
    if (grad_mean != nullptr) elbo4j_store_quad(grad_mean, 4 * q, count, vector, dm);
    if (grad_logvar_terms != nullptr) elbo4j_store_quad(grad_logvar_terms, 4 * q, count, vector, ds);
  }
}

// ---------------------------------------------------------------------------------------------------
// IWAE: log weights (elbo4j_unfused_add), the largest per row, the shifted exponentials, their sum over
// the samples (elbo4j_unfused_sum_samples), the bound.

// largest[b] = max_k in[k][b] (NaN if any is NaN), K x B in. One thread per b.
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_sample_max(const float* __restrict__ in, int samples, int batch, float* __restrict__ largest) {
  ELBO4J_FOR_EACH_ELEMENT(b, batch) {
    float best = -INFINITY;
    for (int k = 0; k < samples; ++k) {
      const float v = in[(size_t)k * batch + b];
      best = (isnan(v) || v > best) ? v : best;
      if (isnan(best)) break;
    }
    largest[b] = best;
  }
}

// out[k][b] = exp(in[k][b] - largest[b]), K x B (0 where largest is not finite: the bound is then largest).
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_exp_shifted(const float* __restrict__ in, const float* __restrict__ largest, int samples, int batch,
                           float* __restrict__ out) {
  ELBO4J_FOR_EACH_ELEMENT(i, (size_t)samples * batch) {
    const float shift = largest[i % batch];
    out[i] = isfinite(shift) ? (float)exp((double)in[i] - (double)shift) : 0.0f;
  }
}

// bound[b] = largest[b] + log(sum[b]) - log K (largest[b] itself when it is not finite).
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_log_mean_exp(const float* __restrict__ largest, const float* __restrict__ sum, int samples, int batch,
                            float* __restrict__ bound) {
  ELBO4J_FOR_EACH_ELEMENT(b, batch) {
    const float shift = largest[b];
    bound[b] = isfinite(shift) ? (float)((double)shift + log((double)sum[b]) - log((double)samples)) : shift;
  }
}

// ---------------------------------------------------------------------------------------------------
// Batch loss: per-row loss terms (then elbo4j_unfused_row_sum over one row of B, and elbo4j_unfused_scale).

// terms[b] = log_prob[b] - beta * kl[b].
extern "C" __global__ void __launch_bounds__(ELBO4J_UNFUSED_THREADS)
elbo4j_unfused_elbo_terms(const float* __restrict__ log_prob, const float* __restrict__ kl, int batch, float beta,
                          float* __restrict__ terms) {
  ELBO4J_FOR_EACH_ELEMENT(b, batch) {
    terms[b] = (float)((double)log_prob[b] - (double)beta * (double)kl[b]);
  }
}
