package dev.elbo4j.kernels;

/** Which implementation a test drives: the fused kernels or the unfused baseline, held to the same tolerances. */
enum Path {
    FUSED,
    UNFUSED
}
