// How a warp walks a row of D columns: in tiles of 128 columns, each lane owning 4 columns of a tile.
//
//   vector layout (D % 4 == 0 and every row 16-byte aligned): lane owns columns tile + 4*lane + {0,1,2,3},
//       read and written as one float4 (16-byte accesses; a warp moves 512 contiguous bytes per array);
//   scalar layout (any D, any alignment):                    lane owns columns tile + lane + 32*{0,1,2,3},
//       four 4-byte accesses, each coalesced across the warp.
//
// Both layouts give every column of the row to exactly one lane, so the two paths compute the same
// elements; only the order of the per-row sums differs. Columns past D are masked (valid[e] false).
#pragma once

#include "elbo_math.cuh"
#include "philox.cuh"

#define ELBO4J_TILE_COLUMNS 128

static __device__ __forceinline__ bool elbo4j_aligned16(const void* pointer) {
  return (reinterpret_cast<unsigned long long>(pointer) & 15ull) == 0;
}

static __device__ __forceinline__ bool elbo4j_aligned4(const void* pointer) {
  return (reinterpret_cast<unsigned long long>(pointer) & 3ull) == 0;
}

// Column of element e (0..3) of this lane in the tile that starts at column `tile`.
template <bool kVector>
static __device__ __forceinline__ int elbo4j_tile_column(int tile, int lane, int e) {
  return kVector ? tile + 4 * lane + e : tile + lane + 32 * e;
}

// Position of element e of this lane inside the tile (0..127).
template <bool kVector>
static __device__ __forceinline__ int elbo4j_tile_slot(int lane, int e) {
  return kVector ? 4 * lane + e : lane + 32 * e;
}

template <bool kVector>
static __device__ __forceinline__ void elbo4j_tile_valid(int tile, int lane, int cols, bool (&valid)[4]) {
#pragma unroll
  for (int e = 0; e < 4; ++e) valid[e] = elbo4j_tile_column<kVector>(tile, lane, e) < cols;
}

// Loads this lane's 4 floats of a row (0 where the column is past the row's end).
template <bool kVector>
static __device__ __forceinline__ void elbo4j_tile_load(const float* __restrict__ row, int tile, int lane, int cols,
                                                        float (&out)[4]) {
  if (kVector) {
    const int column = elbo4j_tile_column<true>(tile, lane, 0);
    float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (column < cols) v = *reinterpret_cast<const float4*>(row + column);
    out[0] = v.x;
    out[1] = v.y;
    out[2] = v.z;
    out[3] = v.w;
  } else {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int column = elbo4j_tile_column<false>(tile, lane, e);
      out[e] = column < cols ? row[column] : 0.0f;
    }
  }
}

// Loads this lane's 4 pixels of a row as targets p / 255. The vector layout reads them as one uchar4
// (4 contiguous bytes per lane, 128 contiguous bytes per warp: one fully used cache line), matching the
// lane's float4 of logits; it needs 4-byte aligned rows.
template <bool kVector>
static __device__ __forceinline__ void elbo4j_tile_load(const unsigned char* __restrict__ row, int tile, int lane,
                                                        int cols, float (&out)[4]) {
  if (kVector) {
    const int column = elbo4j_tile_column<true>(tile, lane, 0);
    uchar4 v = make_uchar4(0, 0, 0, 0);
    if (column < cols) v = *reinterpret_cast<const uchar4*>(row + column);
    out[0] = elbo4j_pixel_value(v.x);
    out[1] = elbo4j_pixel_value(v.y);
    out[2] = elbo4j_pixel_value(v.z);
    out[3] = elbo4j_pixel_value(v.w);
  } else {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int column = elbo4j_tile_column<false>(tile, lane, e);
      out[e] = column < cols ? elbo4j_pixel_value(row[column]) : 0.0f;
    }
  }
}

// Stores this lane's 4 floats of a row (columns past the row's end are not written).
template <bool kVector>
static __device__ __forceinline__ void elbo4j_tile_store(float* __restrict__ row, int tile, int lane, int cols,
                                                         const float (&values)[4]) {
  if (kVector) {
    const int column = elbo4j_tile_column<true>(tile, lane, 0);
    if (column < cols) {
      *reinterpret_cast<float4*>(row + column) = make_float4(values[0], values[1], values[2], values[3]);
    }
  } else {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int column = elbo4j_tile_column<false>(tile, lane, e);
      if (column < cols) row[column] = values[e];
    }
  }
}

// The binarization uniforms (stream 1) of this lane's 4 elements of data row `data_row`: element
// n = data_row * D + column. In the vector layout the 4 columns are n = 4q .. 4q+3 of one Philox call
// (D % 4 == 0 and the first column is a multiple of 4); the scalar layout makes one call per element.
template <bool kVector>
static __device__ __forceinline__ void elbo4j_tile_uniforms(unsigned long long seed, unsigned int offset,
                                                            int data_row, int tile, int lane, int cols,
                                                            float (&out)[4]) {
  const unsigned long long row_start = (unsigned long long)data_row * (unsigned long long)cols;
  if (kVector) {
    const unsigned long long n = row_start + (unsigned long long)elbo4j_tile_column<true>(tile, lane, 0);
    const uint4 w = elbo4j_philox_words(seed, offset, ELBO4J_STREAM_BINARIZATION, n >> 2);
    out[0] = elbo4j_uniform(w.x);
    out[1] = elbo4j_uniform(w.y);
    out[2] = elbo4j_uniform(w.z);
    out[3] = elbo4j_uniform(w.w);
  } else {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const unsigned long long n = row_start + (unsigned long long)elbo4j_tile_column<false>(tile, lane, e);
      out[e] = elbo4j_uniform_at(seed, offset, ELBO4J_STREAM_BINARIZATION, n);
    }
  }
}
