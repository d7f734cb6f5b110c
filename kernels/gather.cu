// A batch's rows gathered from the data set resident on the device, as the encoder's float input:
//
//   data     data_rows x dims  uint8 pixels (the whole data set, uploaded once)
//   indices  index_count ints  row numbers into data (an epoch's shuffled order)
//   out      batch x dims      float: x = p / 255 (a float32 division, as the loss kernels read pixels), or
//                              with binarize != 0 the dynamic binarization of x (elbo4j_binarize: 1 or 0 by
//                              comparing x with u), u the stream-1 uniform of element n = b*D + d under
//                              (seed, the state's step): what the Bernoulli kernel's in-pass binarization of
//                              batch row b draws, so the encoder and the loss see the same data.
// Batch row b is data row indices[state->cursor + b], and the noise offset is the low 32 bits of state->step
// (step_state.cuh): both advance on the device (elbo4j_step_advance), so a captured step gathers the next batch
// at each replay. A position past index_count or an index outside [0, data_rows) makes the whole output row
// NaN: the cursor lives on the device, where Java cannot check it, and a NaN row makes the step's loss
// non-finite, which the guard refuses, instead of a read outside the data set.
//
// Elementwise over out. Work items are 4 consecutive pixels of a row, read as one uchar4 and written as one
// float4 (dims % 4 == 0, data 4-byte and out 16-byte aligned: one Philox call then covers the 4 uniforms),
// or single pixels. Launch: blockDim 256, gridDim ceil(batch * items_per_row / 256).
#include "elbo_math.cuh"
#include "philox.cuh"
#include "tile.cuh"
#include "step_state.cuh"

#define ELBO4J_GATHER_THREADS 256

template <bool kVector>
static __device__ __forceinline__ void elbo4j_gather_items(const unsigned char* __restrict__ data, int data_rows,
                                                           int dims, const int* __restrict__ indices,
                                                           unsigned long long position,
                                                           unsigned long long index_count, int batch,
                                                           bool binarize, unsigned long long seed,
                                                           unsigned int offset, float* __restrict__ out) {
  const unsigned int width = kVector ? 4 : 1;
  const unsigned int items_per_row = (unsigned int)dims / width;
  const unsigned int items = (unsigned int)batch * items_per_row;
  // Unsigned: items < 2^31 and the grid covers items once, so item + stride stays below 2^32.
  for (unsigned int item = blockIdx.x * blockDim.x + threadIdx.x; item < items; item += gridDim.x * blockDim.x) {
    const unsigned int b = item / items_per_row;
    const unsigned int d = (item % items_per_row) * width;
    const size_t at = (size_t)b * (size_t)dims + d;
    const unsigned long long slot = position + b;
    const int row = slot < index_count ? indices[slot] : -1;
    float x[4];
    if (row < 0 || row >= data_rows) {
#pragma unroll
      for (unsigned int e = 0; e < width; ++e) x[e] = NAN;
    } else {
      const unsigned char* pixels = data + (size_t)row * (size_t)dims + d;
      if constexpr (kVector) {
        const uchar4 p = *reinterpret_cast<const uchar4*>(pixels);
        x[0] = elbo4j_pixel_value(p.x);
        x[1] = elbo4j_pixel_value(p.y);
        x[2] = elbo4j_pixel_value(p.z);
        x[3] = elbo4j_pixel_value(p.w);
      } else {
        x[0] = elbo4j_pixel_value(*pixels);
      }
      if (binarize) {
        // Element n = b*D + d of stream 1; in the vector layout n % 4 == 0 (D % 4 == 0, d % 4 == 0), so the
        // 4 uniforms are the 4 words of call n / 4.
        const unsigned long long n = (unsigned long long)at;
        if constexpr (kVector) {
          const uint4 w = elbo4j_philox_words(seed, offset, ELBO4J_STREAM_BINARIZATION, n >> 2);
          x[0] = elbo4j_binarize(x[0], elbo4j_uniform(w.x));
          x[1] = elbo4j_binarize(x[1], elbo4j_uniform(w.y));
          x[2] = elbo4j_binarize(x[2], elbo4j_uniform(w.z));
          x[3] = elbo4j_binarize(x[3], elbo4j_uniform(w.w));
        } else {
          x[0] = elbo4j_binarize(x[0], elbo4j_uniform_at(seed, offset, ELBO4J_STREAM_BINARIZATION, n));
        }
      }
    }
    if constexpr (kVector) {
      *reinterpret_cast<float4*>(out + at) = make_float4(x[0], x[1], x[2], x[3]);
    } else {
      out[at] = x[0];
    }
  }
}

extern "C" __global__ void __launch_bounds__(ELBO4J_GATHER_THREADS)
elbo4j_gather_rows(const unsigned char* __restrict__ data, int data_rows, int dims, const int* __restrict__ indices,
                   unsigned long long index_count, const Elbo4jStepState* __restrict__ state, int batch,
                   int binarize, unsigned long long seed, float* __restrict__ out) {
  const unsigned long long position = state->cursor;
  const unsigned int noise_offset = (unsigned int)state->step;
  // The same test in every thread.
  const bool vector_layout = dims % 4 == 0 && elbo4j_aligned4(data) && elbo4j_aligned16(out);
  if (vector_layout) {
    elbo4j_gather_items<true>(data, data_rows, dims, indices, position, index_count, batch, binarize != 0, seed,
                              noise_offset, out);
  } else {
    elbo4j_gather_items<false>(data, data_rows, dims, indices, position, index_count, batch, binarize != 0, seed,
                               noise_offset, out);
  }
}
