/**
 * Files: the safetensors format ({@link dev.elbo4j.io.SafeTensors}), model-independent, and the VAE checkpoints
 * built on it ({@link dev.elbo4j.io.Checkpoint}: the parameters under PyTorch's names, optionally Adam's moments and
 * the training position, the spec in the metadata). {@link dev.elbo4j.io.Tensor} is a tensor to write, {@link dev.elbo4j.io.TensorInfo} a tensor's header
 * entry as read, {@link dev.elbo4j.io.DType} their element types; every defect of a file read is a
 * {@link dev.elbo4j.io.SafeTensorsFormatException} that names the file.
 */
package dev.elbo4j.io;
