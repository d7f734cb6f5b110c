/**
 * The shapes of the ELBO's tensors as small immutable records, one vocabulary for every kernel launcher
 * ({@code dev.elbo4j.kernels}), the CPU reference ({@code dev.elbo4j.reference}), the CPU backend and the model:
 * {@link dev.elbo4j.shape.LatentShape} (K, B, L and the row stride of {@code [mu | logvar]}),
 * {@link dev.elbo4j.shape.LikelihoodShape} (K, B, D), {@link dev.elbo4j.shape.SampleShape} (K, B) and, for the
 * model's layers, {@link dev.elbo4j.shape.DenseShape} (rows, inputs, outputs). Each is
 * made once from named factories and passed whole, so that no call can swap K and B; each checks its dimensions
 * when it is made and computes its element counts exactly.
 */
package dev.elbo4j.shape;
