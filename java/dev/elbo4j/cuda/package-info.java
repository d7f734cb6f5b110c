/**
 * The CUDA driver API and cuBLAS, bound at run time through the Foreign Function &amp; Memory API, under a small
 * owning API: {@link dev.elbo4j.cuda.CudaRuntime} finds the libraries, a {@link dev.elbo4j.cuda.CudaContext}
 * owns device memory ({@link dev.elbo4j.cuda.DeviceBuffer}), streams, events, modules and their kernels
 * ({@link dev.elbo4j.cuda.CudaFunction}), graphs and cuBLAS handles ({@link dev.elbo4j.cuda.Cublas}).
 *
 * <p>Public API (exported by the module {@code dev.elbo4j}): the typed kernel launchers in {@code dev.elbo4j.kernels}
 * build on it, and so can a framework that drives its own kernels or mixes elbo4j with another CUDA library. The
 * FFM bindings themselves (the driver and cuBLAS downcalls, library discovery, pinned staging) are package-private
 * classes, part of no API. Rules that hold throughout:
 * <ul>
 *   <li>Every native resource has one {@link java.lang.AutoCloseable} owner; close is idempotent and use after
 *       close throws {@link java.lang.IllegalStateException} without reaching the driver. Close and use are safe
 *       against each other from any threads: a call holds what it uses from its checks until the driver has
 *       enqueued the work, and close waits for it; device memory is freed only after the context's queued work
 *       has finished ({@link dev.elbo4j.cuda.DeviceBuffer}, "Closing").</li>
 *   <li>Kernel pointer parameters take buffers, never numbers: a {@link dev.elbo4j.cuda.CudaFunction} is bound
 *       with its declared {@link dev.elbo4j.cuda.KernelParameter}s. An operation takes objects of one context
 *       only, and memory or streams of another CUDA library enter as non-owning views
 *       ({@link dev.elbo4j.cuda.CudaContext#wrap}, {@link dev.elbo4j.cuda.CudaContext#wrapStream}).</li>
 *   <li>Sizes, shapes and kernel arguments are checked in Java first ({@link java.lang.IllegalArgumentException}).</li>
 *   <li>Every failing driver or cuBLAS call throws {@link dev.elbo4j.cuda.CudaException} naming the call, the
 *       result's enum name and the library's text.</li>
 *   <li>The CPU emulator is chosen with {@code -Delbo4j.cuda.library=target/native/libelbo4j-cudaemu.so} (or
 *       {@code ELBO4J_CUDA_LIBRARY}); nothing else depends on it.</li>
 * </ul>
 */
package dev.elbo4j.cuda;
