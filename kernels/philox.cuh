// Philox4x32-10 counter-based noise, addressed exactly as the contract says (docs/numerical-contract.md, "Noise").
//
// A draw is named by (seed: u64, offset: u32, stream: u32, n: u64):
//   key     = (low 32 bits of seed, high 32 bits of seed)
//   counter = (low 32 bits of q, high 32 bits of q, offset, stream), q = n / 4
//   element n takes output word n mod 4.
// Because a draw is a pure function of its name, a kernel draws any element without state, and a
// backward kernel regenerates the forward's noise instead of reading it from memory (as
// flash-attention's dropout does). The integer words are bit-identical to the CPU reference.
#pragma once

#define ELBO4J_PHILOX_M0 0xD2511F53u
#define ELBO4J_PHILOX_M1 0xCD9E8D57u
#define ELBO4J_PHILOX_W0 0x9E3779B9u
#define ELBO4J_PHILOX_W1 0xBB67AE85u

// Noise streams: one per purpose, so no two purposes ever share a word.
#define ELBO4J_STREAM_REPARAMETERIZATION 0u
#define ELBO4J_STREAM_BINARIZATION 1u

// One Philox round: two 32x32 -> 64 bit products, their halves mixed with the other counter words
// and the key (Salmon et al., SC'11, figure 2).
static __device__ __forceinline__ uint4 elbo4j_philox_round(uint4 c, uint2 k) {
  const unsigned int hi0 = __umulhi(ELBO4J_PHILOX_M0, c.x);
  const unsigned int lo0 = ELBO4J_PHILOX_M0 * c.x;
  const unsigned int hi1 = __umulhi(ELBO4J_PHILOX_M1, c.z);
  const unsigned int lo1 = ELBO4J_PHILOX_M1 * c.z;
  return make_uint4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
}

// Philox4x32 with 10 rounds; the key is bumped by the Weyl constants between rounds.
static __device__ __forceinline__ uint4 elbo4j_philox4x32_10(uint4 counter, uint2 key) {
#pragma unroll
  for (int round = 0; round < 9; ++round) {
    counter = elbo4j_philox_round(counter, key);
    key.x += ELBO4J_PHILOX_W0;
    key.y += ELBO4J_PHILOX_W1;
  }
  return elbo4j_philox_round(counter, key);
}

// The four words of Philox call q (elements 4q .. 4q+3) of (seed, offset, stream).
static __device__ __forceinline__ uint4 elbo4j_philox_words(unsigned long long seed, unsigned int offset,
                                                                     unsigned int stream, unsigned long long q) {
  const uint4 counter = make_uint4((unsigned int)q, (unsigned int)(q >> 32), offset, stream);
  const uint2 key = make_uint2((unsigned int)seed, (unsigned int)(seed >> 32));
  return elbo4j_philox4x32_10(counter, key);
}

// Word n mod 4 of a call.
static __device__ __forceinline__ unsigned int elbo4j_pick_word(uint4 words, unsigned int index) {
  return index == 0 ? words.x : index == 1 ? words.y : index == 2 ? words.z : words.w;
}

// Uniform in (0, 1] from the top 24 bits of a word: ((w >> 8) + 1) * 2^-24, exact in float32 (never 0,
// so log(u) is finite).
static __device__ __forceinline__ float elbo4j_uniform(unsigned int word) {
  return (float)((word >> 8) + 1u) * 5.9604644775390625e-8f;
}

// Box-Muller from one pair of words: r = sqrt(-2 ln u_a), t = 2 pi u_b; first = r cos t, second = r sin t.
// Evaluated in double from the exact float32 uniforms and rounded once to float32, as the CPU reference
// does, so the normals are the correctly rounded values and match the reference's bits except at the
// rare double-rounding tie. (A float32 evaluation agrees only to a few ulp, and the latent backward at
// large sigma would carry that difference into dlogvar.) The cost is small: the latent tensors are
// K x B x L, and each call yields four normals. sincospi(2 u) is sin/cos(2 pi u) without a rounded
// 2 pi u and without the large-argument reduction that sincos would compile in (a local-memory stack).
static __device__ __forceinline__ float2 elbo4j_box_muller(unsigned int word_a, unsigned int word_b) {
  const double radius = sqrt(-2.0 * log((double)elbo4j_uniform(word_a)));
  double sine, cosine;
  sincospi(2.0 * (double)elbo4j_uniform(word_b), &sine, &cosine);
  return make_float2((float)(radius * cosine), (float)(radius * sine));
}

// The four standard normals of call q: elements 4q+0, 4q+1 from (w0, w1), 4q+2, 4q+3 from (w2, w3).
static __device__ __forceinline__ float4 elbo4j_normal4(unsigned long long seed, unsigned int offset,
                                                                 unsigned long long q) {
  const uint4 w = elbo4j_philox_words(seed, offset, ELBO4J_STREAM_REPARAMETERIZATION, q);
  const float2 first = elbo4j_box_muller(w.x, w.y);
  const float2 second = elbo4j_box_muller(w.z, w.w);
  return make_float4(first.x, first.y, second.x, second.y);
}

// The single standard normal of element n (for threads that own one element, not a whole call): the same
// words and the same arithmetic as elbo4j_normal4, so both paths give the same bits.
static __device__ __forceinline__ float elbo4j_normal_at(unsigned long long seed, unsigned int offset,
                                                                  unsigned long long n) {
  const uint4 w = elbo4j_philox_words(seed, offset, ELBO4J_STREAM_REPARAMETERIZATION, n >> 2);
  const unsigned int slot = (unsigned int)(n & 3u);
  const float2 pair = slot < 2 ? elbo4j_box_muller(w.x, w.y) : elbo4j_box_muller(w.z, w.w);
  return (slot & 1u) == 0 ? pair.x : pair.y;
}

// The uniform of element n of a stream (binarization draws one uniform per data element).
static __device__ __forceinline__ float elbo4j_uniform_at(unsigned long long seed, unsigned int offset,
                                                                   unsigned int stream, unsigned long long n) {
  return elbo4j_uniform(elbo4j_pick_word(elbo4j_philox_words(seed, offset, stream, n >> 2), (unsigned int)(n & 3u)));
}
