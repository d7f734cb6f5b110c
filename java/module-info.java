/**
 * elbo4j: the variational autoencoder's evidence lower bound on the GPU from Java (fused CUDA kernels driven through
 * the Foreign Function &amp; Memory API) and on the CPU.
 *
 * <p>The exported packages are the public API:
 * <ul>
 *   <li>{@code dev.elbo4j.shape}: the shape records every operation takes;</li>
 *   <li>{@code dev.elbo4j.cuda}: the CUDA runtime, contexts, device memory, streams, kernels, graphs and cuBLAS;
 *       the FFM bindings behind them (the driver and cuBLAS downcalls, library discovery, pinned staging) are
 *       package-private classes of it, part of no API;</li>
 *   <li>{@code dev.elbo4j.kernels}: the typed launchers of the fused kernels and the unfused baseline;</li>
 *   <li>{@code dev.elbo4j.reference}: the CPU reference of the numerical contract;</li>
 *   <li>{@code dev.elbo4j.data}: IDX data sets;</li>
 *   <li>{@code dev.elbo4j.nn}: the model, its backends' operations and training;</li>
 *   <li>{@code dev.elbo4j.io}: safetensors checkpoints.</li>
 * </ul>
 * {@code dev.elbo4j.cli} is the command line, an application rather than an API: it is not exported, only opened to
 * picocli, which reads its annotated commands reflectively. picocli is an optional dependency ({@code requires
 * static}): a library user does not need it; the command line run from the module path names it,
 * {@code java -p LIBS --add-modules info.picocli --enable-native-access=dev.elbo4j -m dev.elbo4j/dev.elbo4j.cli.Main}.
 *
 * <p>Native access: the CUDA bindings call restricted FFM methods. On the module path grant it to this module,
 * {@code --enable-native-access=dev.elbo4j}; the executable jar ({@code java -jar}) grants it to the class path in
 * its manifest ({@code Enable-Native-Access: ALL-UNNAMED}). Either way no restricted-method warning is printed.
 */
module dev.elbo4j {
    // JSON of the safetensors header (dev.elbo4j.io).
    requires com.fasterxml.jackson.databind;
    // PNG grids of images (the command line's pictures, through javax.imageio).
    requires java.desktop;
    // The command line's parser: optional, see above.
    requires static info.picocli;

    exports dev.elbo4j.shape;
    exports dev.elbo4j.cuda;
    exports dev.elbo4j.kernels;
    exports dev.elbo4j.reference;
    exports dev.elbo4j.data;
    exports dev.elbo4j.nn;
    exports dev.elbo4j.io;

    opens dev.elbo4j.cli to info.picocli;
}
