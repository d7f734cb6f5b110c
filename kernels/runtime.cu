// Elementwise float32 kernels the runtime layer ships with: fill and axpy over flat buffers of any length.
// The runtime's tests use them to check launches, argument packing and graph capture; launchers may use
// them to initialize or accumulate buffers. Grid-stride loops: any grid covers any n, and the index is
// 64-bit so buffers of more than 2^31 floats work.

// out[i] = value for i in [0, n).
extern "C" __global__ void elbo4j_fill_f32(float* __restrict__ out, float value, long long n) {
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        out[i] = value;
    }
}

// y[i] = a * x[i] + y[i] for i in [0, n), with one rounding (fmaf), so the CPU check can be exact.
extern "C" __global__ void elbo4j_axpy_f32(float* __restrict__ y, const float* __restrict__ x, float a, long long n) {
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        y[i] = fmaf(a, x[i], y[i]);
    }
}
