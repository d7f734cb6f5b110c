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
 *   <li>{@code dev.elbo4j.kernels}: the typed launchers of the fused kernels, the training kernels and the unfused
 *       baseline;</li>
 *   <li>{@code dev.elbo4j.reference}: the CPU reference of the numerical contract;</li>
 *   <li>{@code dev.elbo4j.data}: IDX data sets;</li>
 *   <li>{@code dev.elbo4j.nn}: the model, its backends' operations and training;</li>
 *   <li>{@code dev.elbo4j.cpu}, {@code dev.elbo4j.gpu}: the CPU backend (OpenBLAS) and the CUDA backend;</li>
 *   <li>{@code dev.elbo4j.io}: safetensors checkpoints.</li>
 * </ul>
 * {@code dev.elbo4j.cli} is the command line, an application rather than an API: it is not exported, only opened to
 * picocli (which reads its annotated commands) and Jackson (which writes its metrics). picocli and the progress bar
 * are optional dependencies ({@code requires static}): a library user needs neither; the command line run from the
 * module path names them (see below).
 *
 * <p>Native access: the CUDA bindings and the CPU backend's OpenBLAS calls use restricted FFM methods, and JavaCPP
 * loads OpenBLAS's natives. On the module path grant native access to this module and to JavaCPP's two, and add the
 * module of OpenBLAS's natives for this platform (nothing requires it by name):
 * <pre>
 * java -p LIBS --enable-native-access=dev.elbo4j,org.bytedeco.javacpp,org.bytedeco.openblas \
 *      --add-modules org.bytedeco.openblas.linux.x86_64,info.picocli,me.tongfei.progressbar \
 *      -m dev.elbo4j/dev.elbo4j.cli.Main info
 * </pre>
 * A program that only uses the CUDA side needs {@code --enable-native-access=dev.elbo4j} alone. The executable jar
 * ({@code java -jar}) runs on the class path and grants native access in its manifest
 * ({@code Enable-Native-Access: ALL-UNNAMED}). Either way no restricted-method warning is printed.
 *
 * <p>A new package of the library gets an {@code exports} line here (ModuleTest fails until it has one); a new
 * dependency a {@code requires} line, {@code static} when its Maven dependency is optional.
 */
module dev.elbo4j {
    // JSON: the safetensors header and the checkpoints' metadata (dev.elbo4j.io), the command line's metrics.
    requires com.fasterxml.jackson.databind;
    // The CPU backend's GEMMs (dev.elbo4j.cpu); brings org.bytedeco.javacpp, which loads the natives.
    requires org.bytedeco.openblas;
    // PNG grids of images (the command line's pictures, through javax.imageio).
    requires java.desktop;
    // The command line's parser and progress bar: optional, see above.
    requires static info.picocli;
    requires static me.tongfei.progressbar;

    exports dev.elbo4j.shape;
    exports dev.elbo4j.cuda;
    exports dev.elbo4j.kernels;
    exports dev.elbo4j.reference;
    exports dev.elbo4j.data;
    exports dev.elbo4j.nn;
    exports dev.elbo4j.cpu;
    exports dev.elbo4j.gpu;
    exports dev.elbo4j.io;

    // Jackson binds the checkpoints' metadata records (some package-private) and the command line's metrics.
    opens dev.elbo4j.io to com.fasterxml.jackson.databind;
    opens dev.elbo4j.nn to com.fasterxml.jackson.databind;
    opens dev.elbo4j.cli to info.picocli, com.fasterxml.jackson.databind;
}
