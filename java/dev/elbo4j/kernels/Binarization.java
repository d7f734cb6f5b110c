package dev.elbo4j.kernels;

/**
 * Dynamic binarization of Bernoulli targets (contract, "Dynamic binarization"): inside the likelihood kernel each
 * {@code x[b][d]} is replaced by {@code 1 if u <= x[b][d] else 0}, with {@code u} the Philox uniform of element
 * {@code n = b*D + d}, stream 1, under {@code (seed, offset)}. As u lies in (0, 1], a pixel of exactly 1 always
 * stays 1 and one of exactly 0 always becomes 0; otherwise the probability of a 1 is x up to the 2^-24 grid of u.
 * The data in memory is never rewritten, and the K samples of a row see the same binarized row.
 *
 * @param seed   Philox key
 * @param offset Philox counter word 2: the caller's step counter, so each step binarizes afresh
 */
public record Binarization(long seed, int offset) {
}
