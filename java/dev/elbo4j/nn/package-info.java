/**
 * The MLP variational autoencoder, written once over the {@link dev.elbo4j.nn.Backend} operations that the CPU
 * backend ({@code dev.elbo4j.cpu}) and the CUDA backend implement: its immutable description
 * ({@link dev.elbo4j.nn.VaeSpec}), the flat parameter layout with stable tensor names
 * ({@link dev.elbo4j.nn.ParameterLayout}), the per-step scalars that stay in backend memory
 * ({@link dev.elbo4j.nn.StepStatus}), and the layer value types ({@link dev.elbo4j.nn.Activation},
 * {@link dev.elbo4j.nn.AdamSettings}).
 */
package dev.elbo4j.nn;
