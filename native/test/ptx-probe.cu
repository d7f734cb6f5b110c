// A kernel for native/test/check-ptx-test.sh: compiled as the kernels are, its PTX must pass
// native/check-ptx.pl (it uses the math the kernels use: expf of both signs, division, double log and
// log1p); compiled with a fast-math option, or with ELBO4J_PROBE_INTRINSICS defined, it must fail.
extern "C" __global__ void ptx_probe(const float* __restrict__ in, float* __restrict__ out, double* __restrict__ wide) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  const float x = in[i];
  const float y = expf(x) + expf(-fabsf(x)) + 1.0f / (1.0f + x * x) + x / in[i + 1];
  out[i] = sqrtf(y);
  wide[i] = log((double)y) + log1p((double)x);
#ifdef ELBO4J_PROBE_INTRINSICS
  out[i + 1] = __expf(x) + __fdividef(x, y);
#endif
}
