/**
 * Typed launchers of the fused ELBO kernels ({@code kernels/*.cu}), one class per fused operation, and the unfused
 * baseline that computes the same functions as a sequence of one-purpose kernels:
 * <ul>
 *   <li>{@link dev.elbo4j.kernels.LatentKernels}: reparameterization forward (noise drawn in the kernel, samples,
 *       per-row KL, optionally the IWAE log-density ratio) and backward (noise regenerated or read back);</li>
 *   <li>{@link dev.elbo4j.kernels.BernoulliKernels}: the Bernoulli loss and logit gradient in one pass, float or
 *       pixel data, optional dynamic binarization;</li>
 *   <li>{@link dev.elbo4j.kernels.GaussianKernels}: the Gaussian loss and gradients in three log-variance
 *       modes;</li>
 *   <li>{@link dev.elbo4j.kernels.ElboReduction}: the batch loss and mean ELBO from per-row terms, read back as
 *       {@link dev.elbo4j.kernels.ElboTotals};</li>
 *   <li>{@link dev.elbo4j.kernels.IwaeKernels}: the importance-weighted bound per row;</li>
 *   <li>{@link dev.elbo4j.kernels.UnfusedElbo}: all of the above, unfused, with the same arguments.</li>
 * </ul>
 * and the training kernels a model's step needs besides its GEMMs (the CUDA backend, {@code dev.elbo4j.gpu}):
 * <ul>
 *   <li>{@link dev.elbo4j.kernels.ActivationKernels}: bias + activation after a layer's GEMM, the activation's
 *       derivative before its backward GEMMs ({@link dev.elbo4j.shape.DenseShape});</li>
 *   <li>{@link dev.elbo4j.kernels.BiasGradientKernels}: a layer's bias gradient, a two-stage column sum;</li>
 *   <li>{@link dev.elbo4j.kernels.GatherKernels}: a batch gathered from a device-resident uint8 data set;</li>
 *   <li>{@link dev.elbo4j.kernels.LossTotalsKernels}, {@link dev.elbo4j.kernels.GradientNormKernels},
 *       {@link dev.elbo4j.kernels.AdamKernels}: the batch totals with the KL schedule, the gradient norm and the
 *       guarded Adam update, all reading and writing a {@link dev.elbo4j.kernels.DeviceStepState}: the per-step
 *       values live in device memory, so that a step captured once as a CUDA graph replays with fresh ones (the
 *       latent kernels read their noise offset and KL weights from there too).</li>
 * </ul>
 * The functions are those of the numerical contract, {@code docs/numerical-contract.md} in the repository (cited
 * below and in each class as "contract" with a section title); the CPU reference ({@code dev.elbo4j.reference}) is
 * the oracle the tests hold them to. Rules that hold throughout:
 * <ul>
 *   <li>One argument order everywhere: <b>stream, shape, inputs, settings, outputs</b>. First the stream
 *       ({@code null}: the legacy default stream); then the one shape record of {@code dev.elbo4j.shape} that sizes
 *       every tensor of the call ({@link dev.elbo4j.shape.LatentShape} for the latent layer,
 *       {@link dev.elbo4j.shape.LikelihoodShape} for the likelihoods, {@link dev.elbo4j.shape.SampleShape} for the
 *       ELBO reduction and the IWAE bound), so K, B, D and L never travel as loose integers that could be swapped;
 *       then the device buffers the kernel reads; then the scalars and options that steer it (Philox seed and
 *       offset, target format, binarization, beta, row weights); then the buffers it writes ({@code null} for an
 *       optional output that is not wanted). The CPU reference ({@code dev.elbo4j.reference}) takes the same order
 *       without the stream, and each unfused method exactly the arguments of its fused counterpart.</li>
 *   <li>Every argument is checked in Java before anything is launched: each buffer open, of the launcher's context
 *       and large enough for its shape (larger is allowed: only the prefix the shape names is used), outputs not
 *       overlapping inputs. A wrong call throws {@link java.lang.IllegalArgumentException} (or
 *       {@link java.lang.IllegalStateException} for a closed buffer) naming the argument and the shape.</li>
 *   <li>Work is enqueued on the given {@link dev.elbo4j.cuda.CudaStream} ({@code null}: the legacy default stream)
 *       and nothing is allocated per call, so a sequence of calls can be captured into a CUDA graph.</li>
 *   <li>Sums are tree reductions in a fixed order, and noise is counter-based Philox: the same inputs, seed and
 *       offset give the same bits on the same device.</li>
 * </ul>
 */
package dev.elbo4j.kernels;
