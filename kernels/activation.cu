// A dense layer's elementwise work around its GEMMs: the bias and activation after the forward GEMM, and the
// activation's derivative before the backward GEMMs (dev.elbo4j.reference.Dense, dev.elbo4j.nn.Activation).
//
//   pre  rows x cols  on entry x W^T (the GEMM's output); on exit x W^T + b, the pre-activation
//   bias cols         b
//   out  rows x cols  act(x W^T + b); may be pre itself, which then ends holding the output
//   dy   rows x cols  dLoss/dy
//   dpre rows x cols  dLoss/dpre = dy * act'(saved); may be dy itself (in place)
//
// The backward reads `saved`: the pre-activation, or, for identity, ReLU and leaky ReLU only, the output y,
// because their derivative only asks whether pre > 0, and y > 0 exactly when pre > 0 (y = pre there, and 0 or
// 0.01 pre <= 0 elsewhere; for NaN, y is NaN and neither is > 0 nor <= 0). So those layers may run with
// out == pre and keep no pre-activation at all.
//
// NaN: every activation maps a NaN pre-activation to NaN, as PyTorch's do, so that a NaN weight reaches the loss
// and the step's non-finite guard: ReLU is `a <= 0 ? 0 : a` (neither fmaxf nor `a > 0 ? a : 0`, which both
// return 0 for NaN). The derivative at NaN is PyTorch's: 1 for ReLU (`a <= 0 ? 0 : 1`), 0.01 for leaky ReLU.
//
// Float32 arithmetic with formulas that do not cancel: the derivative of tanh as 4e/(1+e)^2 with
// e = exp(-2|a|) (not 1 - tanh^2, which loses every digit once tanh rounds to 1), sigmoid and 1 - sigmoid
// each from one exp without a subtraction. The derivative is multiplied into dy unconditionally, so a NaN
// or infinite dy stays non-finite (the step's guard must see it), as in the reference.
//
// Elementwise, no reduction, no shared memory. Work items are 4 consecutive elements of a row read and
// written as float4 (cols % 4 == 0 and 16-byte aligned tensors) or single elements (any shape). Grid-stride
// loops; the loop index is unsigned: with at most 2^31 - 1024 elements (checked by the launcher) and a grid of
// ceil(items / 256) blocks, index + stride stays below 2^32.
#include "tile.cuh"

#define ELBO4J_ACTIVATION_THREADS 256

// The codes the launcher passes (dev.elbo4j.kernels.ActivationKernels maps dev.elbo4j.nn.Activation).
#define ELBO4J_ACTIVATION_IDENTITY 0
#define ELBO4J_ACTIVATION_RELU 1
#define ELBO4J_ACTIVATION_TANH 2
#define ELBO4J_ACTIVATION_LEAKY_RELU 3
#define ELBO4J_ACTIVATION_SILU 4

#define ELBO4J_LEAKY_SLOPE 0.01f

// sigmoid(a) and 1 - sigmoid(a) = sigmoid(-a), each from e = exp(-|a|) without cancellation.
static __device__ __forceinline__ float2 elbo4j_sigmoid_pair(float a) {
  const float e = expf(-fabsf(a));
  const float inv = 1.0f / (1.0f + e);
  const float small = e * inv;  // sigmoid(-|a|)
  return a >= 0.0f ? make_float2(inv, small) : make_float2(small, inv);
}

template <int kActivation>
static __device__ __forceinline__ float elbo4j_activate(float a) {
  if constexpr (kActivation == ELBO4J_ACTIVATION_RELU) {
    return a <= 0.0f ? 0.0f : a;
  } else if constexpr (kActivation == ELBO4J_ACTIVATION_TANH) {
    // tanh|a| = -expm1(-2|a|) / (2 + expm1(-2|a|)), in double: exact to the float's rounding for every |a|, small
    // ones included (1 - e in float would cancel there). Not tanhf: nvcc 13 builds it from ex2.approx and an
    // unrefined rcp.approx.ftz.f32, which native/check-ptx.pl rejects (it allows only expf's range-reduced
    // ex2.approx and double log's Newton-refined reciprocal).
    const double e = expm1(-2.0 * fabs((double)a));
    return copysignf((float)(-e / (2.0 + e)), a);
  } else if constexpr (kActivation == ELBO4J_ACTIVATION_LEAKY_RELU) {
    return a > 0.0f ? a : ELBO4J_LEAKY_SLOPE * a;
  } else if constexpr (kActivation == ELBO4J_ACTIVATION_SILU) {
    return a * elbo4j_sigmoid_pair(a).x;
  } else {
    return a;
  }
}

// act'(a) from `saved` (see the file comment: the pre-activation, or y for identity, ReLU, leaky ReLU).
template <int kActivation>
static __device__ __forceinline__ float elbo4j_activation_slope(float saved) {
  if constexpr (kActivation == ELBO4J_ACTIVATION_RELU) {
    return saved <= 0.0f ? 0.0f : 1.0f;
  } else if constexpr (kActivation == ELBO4J_ACTIVATION_TANH) {
    // 1 - tanh(a)^2 = 4 e / (1 + e)^2 with e = exp(-2|a|).
    const float e = expf(-2.0f * fabsf(saved));
    const float inv = 1.0f / (1.0f + e);
    return 4.0f * e * inv * inv;
  } else if constexpr (kActivation == ELBO4J_ACTIVATION_LEAKY_RELU) {
    return saved > 0.0f ? 1.0f : ELBO4J_LEAKY_SLOPE;
  } else if constexpr (kActivation == ELBO4J_ACTIVATION_SILU) {
    // d/da [a s(a)] = s (1 + a (1 - s)).
    const float2 s = elbo4j_sigmoid_pair(saved);
    return s.x * (1.0f + saved * s.y);
  } else {
    return 1.0f;
  }
}

// ---------------------------------------------------------------------------------------------------
// Forward: a = pre + b; pre = a (unless out is pre); out = act(a). pre and out are not __restrict__: they may be
// the same buffer (each element is read, then written, by one thread).

template <int kActivation, bool kVector>
static __device__ __forceinline__ void elbo4j_bias_activation_items(float* pre, const float* __restrict__ bias,
                                                                    int rows, int cols, float* out) {
  const bool keep_pre = pre != out;
  const unsigned int width = kVector ? 4 : 1;
  const unsigned int items_per_row = (unsigned int)cols / width;
  const unsigned int items = (unsigned int)rows * items_per_row;
  for (unsigned int item = blockIdx.x * blockDim.x + threadIdx.x; item < items; item += gridDim.x * blockDim.x) {
    const unsigned int column = (item % items_per_row) * width;
    const size_t at = (size_t)item * width;
    if constexpr (kVector) {
      const float4 product = *reinterpret_cast<const float4*>(pre + at);
      const float4 a = make_float4(product.x + bias[column], product.y + bias[column + 1],
                                   product.z + bias[column + 2], product.w + bias[column + 3]);
      if (keep_pre) *reinterpret_cast<float4*>(pre + at) = a;
      *reinterpret_cast<float4*>(out + at) =
          make_float4(elbo4j_activate<kActivation>(a.x), elbo4j_activate<kActivation>(a.y),
                      elbo4j_activate<kActivation>(a.z), elbo4j_activate<kActivation>(a.w));
    } else {
      const float a = pre[at] + bias[column];
      if (keep_pre) pre[at] = a;
      out[at] = elbo4j_activate<kActivation>(a);
    }
  }
}

template <int kActivation>
static __device__ __forceinline__ void elbo4j_bias_activation_body(float* pre, const float* __restrict__ bias,
                                                                   int rows, int cols, float* out) {
  // The same test in every thread. The bias is read as scalars: it may be any slice of the parameter buffer.
  const bool vector_layout = cols % 4 == 0 && elbo4j_aligned16(pre) && elbo4j_aligned16(out);
  if (vector_layout) {
    elbo4j_bias_activation_items<kActivation, true>(pre, bias, rows, cols, out);
  } else {
    elbo4j_bias_activation_items<kActivation, false>(pre, bias, rows, cols, out);
  }
}

// Launch: blockDim 256, gridDim ceil(rows * cols / 4 / 256) (vector layout) or ceil(rows * cols / 256).
extern "C" __global__ void __launch_bounds__(ELBO4J_ACTIVATION_THREADS)
elbo4j_bias_activation_forward(float* pre, const float* __restrict__ bias, int rows, int cols, int activation,
                               float* out) {
  switch (activation) {
    case ELBO4J_ACTIVATION_RELU:
      elbo4j_bias_activation_body<ELBO4J_ACTIVATION_RELU>(pre, bias, rows, cols, out);
      break;
    case ELBO4J_ACTIVATION_TANH:
      elbo4j_bias_activation_body<ELBO4J_ACTIVATION_TANH>(pre, bias, rows, cols, out);
      break;
    case ELBO4J_ACTIVATION_LEAKY_RELU:
      elbo4j_bias_activation_body<ELBO4J_ACTIVATION_LEAKY_RELU>(pre, bias, rows, cols, out);
      break;
    case ELBO4J_ACTIVATION_SILU:
      elbo4j_bias_activation_body<ELBO4J_ACTIVATION_SILU>(pre, bias, rows, cols, out);
      break;
    default:
      elbo4j_bias_activation_body<ELBO4J_ACTIVATION_IDENTITY>(pre, bias, rows, cols, out);
      break;
  }
}

// ---------------------------------------------------------------------------------------------------
// Backward: dpre = dy * act'(saved). dy and dpre are not __restrict__: dpre may be dy (each element is
// read, then written, by the same thread).

template <int kActivation, bool kVector>
static __device__ __forceinline__ void elbo4j_activation_backward_items(const float* dy,
                                                                        const float* __restrict__ saved, int n,
                                                                        float* dpre) {
  const unsigned int width = kVector ? 4 : 1;
  const unsigned int items = (unsigned int)n / width;
  for (unsigned int item = blockIdx.x * blockDim.x + threadIdx.x; item < items; item += gridDim.x * blockDim.x) {
    const size_t at = (size_t)item * width;
    if constexpr (kVector) {
      const float4 g = *reinterpret_cast<const float4*>(dy + at);
      const float4 s = *reinterpret_cast<const float4*>(saved + at);
      *reinterpret_cast<float4*>(dpre + at) =
          make_float4(g.x * elbo4j_activation_slope<kActivation>(s.x), g.y * elbo4j_activation_slope<kActivation>(s.y),
                      g.z * elbo4j_activation_slope<kActivation>(s.z), g.w * elbo4j_activation_slope<kActivation>(s.w));
    } else {
      dpre[at] = dy[at] * elbo4j_activation_slope<kActivation>(saved[at]);
    }
  }
}

template <int kActivation>
static __device__ __forceinline__ void elbo4j_activation_backward_body(const float* dy, const float* __restrict__ saved,
                                                                       int n, float* dpre) {
  // n % 4 == 0 with 16-byte aligned tensors: every float4 lies inside the tensors (rows need not align).
  const bool vector_layout =
      n % 4 == 0 && elbo4j_aligned16(dy) && elbo4j_aligned16(saved) && elbo4j_aligned16(dpre);
  if (vector_layout) {
    elbo4j_activation_backward_items<kActivation, true>(dy, saved, n, dpre);
  } else {
    elbo4j_activation_backward_items<kActivation, false>(dy, saved, n, dpre);
  }
}

// n = rows * cols. Launch: blockDim 256, gridDim ceil(n / 4 / 256) (vector layout) or ceil(n / 256).
extern "C" __global__ void __launch_bounds__(ELBO4J_ACTIVATION_THREADS)
elbo4j_activation_backward(const float* dy, const float* __restrict__ saved, int n, int activation, float* dpre) {
  switch (activation) {
    case ELBO4J_ACTIVATION_RELU:
      elbo4j_activation_backward_body<ELBO4J_ACTIVATION_RELU>(dy, saved, n, dpre);
      break;
    case ELBO4J_ACTIVATION_TANH:
      elbo4j_activation_backward_body<ELBO4J_ACTIVATION_TANH>(dy, saved, n, dpre);
      break;
    case ELBO4J_ACTIVATION_LEAKY_RELU:
      elbo4j_activation_backward_body<ELBO4J_ACTIVATION_LEAKY_RELU>(dy, saved, n, dpre);
      break;
    case ELBO4J_ACTIVATION_SILU:
      elbo4j_activation_backward_body<ELBO4J_ACTIVATION_SILU>(dy, saved, n, dpre);
      break;
    default:
      elbo4j_activation_backward_body<ELBO4J_ACTIVATION_IDENTITY>(dy, saved, n, dpre);
      break;
  }
}
