/**
 * The CUDA backend of the model ({@link dev.elbo4j.gpu.CudaBackend}): the {@link dev.elbo4j.nn.Backend} operations on
 * a GPU through cuBLAS and the kernels of {@code dev.elbo4j.kernels}, with the data set resident on the device, the
 * step's scalars in device memory and the whole training step captured once as a CUDA graph and replayed; and the
 * choice between it and the CPU backend ({@link dev.elbo4j.gpu.BackendSelection}: auto, cuda, cpu, with the reason).
 */
package dev.elbo4j.gpu;
