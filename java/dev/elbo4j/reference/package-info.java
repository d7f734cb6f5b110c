/**
 * The CPU reference: one static method per kernel, on plain Java arrays, computing exactly the formulas of the
 * numerical contract ({@code docs/numerical-contract.md} in the repository, cited as "contract" with a section
 * title), and the model's layer operations ({@link dev.elbo4j.reference.Dense}, {@link dev.elbo4j.reference.Adam},
 * {@link dev.elbo4j.reference.GradientNorm}). It is the oracle: the kernels in {@code dev.elbo4j.kernels} and both
 * backends are tested against it.
 *
 * <p>Conventions that hold throughout:
 * <ul>
 *   <li>Arrays are float32, row-major; shapes are written {@code K x B x D} (K samples of B rows of D values),
 *       and each method's parameters say which shape each array has. The dimensions come as one record of
 *       {@code dev.elbo4j.shape} ({@code LatentShape}, {@code LikelihoodShape}, {@code SampleShape},
 *       {@code DenseShape}), the first argument, followed by the inputs, the settings and the outputs: the order
 *       of the kernel launchers without their stream. Log-likelihoods, KL terms and bounds are in nats.</li>
 *   <li>Arithmetic is double from the float32 inputs; each float32 output is rounded once. Batch totals
 *       ({@link dev.elbo4j.reference.Elbo}, {@link dev.elbo4j.reference.Iwae#gap}) are returned as unrounded
 *       doubles.</li>
 *   <li>Every argument is checked before anything is written: a dimension below 1 or an array whose length does
 *       not fit its shape throws {@link java.lang.IllegalArgumentException} naming the shape it has and the shape
 *       it needs; a null array throws {@link java.lang.NullPointerException} naming it.</li>
 *   <li>The methods keep no state and may be called from any thread. Large inputs are split across rows on the
 *       common fork-join pool; rows are independent and every sum has a fixed order, so the results are the same
 *       bits however the rows are scheduled.</li>
 * </ul>
 */
package dev.elbo4j.reference;
