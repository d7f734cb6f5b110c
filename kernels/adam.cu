// One guarded Adam or AdamW update over the flat parameter buffer (dev.elbo4j.nn.AdamSettings: PyTorch's
// torch.optim.Adam / AdamW with clip_grad_norm_), in two launches that read and write the step state
// (step_state.cuh), so that a captured step graph replays with each step's own values.
//
// elbo4j_adam_prepare (one thread), the non-finite guard:
//   loss or gradient_norm not finite:  apply = 0, skipped += 1, skipped_in_a_row += 1 (nothing else changes)
//   else:                              t = updates + 1; apply = 1; updates = t; skipped_in_a_row = 0;
//                                      clip_scale = min(1, max_grad_norm / (gradient_norm + 1e-6)), or 1 when
//                                      max_grad_norm is infinite; step_size = lr / (1 - beta1^t);
//                                      inverse_correction2_sqrt = 1 / sqrt(1 - beta2^t)
//                                      (each in double from the float inputs, rounded once to float)
//
// elbo4j_adam (elementwise over n), when apply is 1 (else it writes nothing):
//   g = clip_scale * grad (+ weight_decay * p for Adam's L2 penalty)
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
//   p = p (1 - lr weight_decay) - step_size m / (sqrt(v) inverse_correction2_sqrt + epsilon)
//       (the decay factor is 1 for Adam)
// Float32 per element, as PyTorch and the CPU backend compute it (the reference's double arithmetic agrees to a
// few ulp). No reduction, no shared memory.
#include "step_state.cuh"

#define ELBO4J_ADAM_THREADS 256
// What torch.nn.utils.clip_grad_norm_ adds to the norm before dividing.
#define ELBO4J_CLIP_EPSILON 1e-6

// max_grad_norm: +infinity for no clipping. Launch: blockDim 1, gridDim 1.
extern "C" __global__ void __launch_bounds__(1)
elbo4j_adam_prepare(Elbo4jStepState* __restrict__ state, float learning_rate, float beta1, float beta2,
                    float max_grad_norm) {
  const float norm = state->gradient_norm;
  if (!isfinite(state->loss) || !isfinite(norm)) {
    state->apply = 0;
    state->skipped += 1;
    state->skipped_in_a_row += 1;
    return;
  }
  const unsigned long long t = state->updates + 1;
  state->clip_scale =
      isinf(max_grad_norm) ? 1.0f : (float)fmin(1.0, (double)max_grad_norm / ((double)norm + ELBO4J_CLIP_EPSILON));
  state->step_size = (float)((double)learning_rate / (1.0 - pow((double)beta1, (double)t)));
  state->inverse_correction2_sqrt = (float)(1.0 / sqrt(1.0 - pow((double)beta2, (double)t)));
  state->apply = 1;
  state->updates = t;
  state->skipped_in_a_row = 0;
}

// Launch: blockDim 256, gridDim ceil(n / 256).
extern "C" __global__ void __launch_bounds__(ELBO4J_ADAM_THREADS)
elbo4j_adam(float* __restrict__ params, const float* __restrict__ grads, float* __restrict__ m,
            float* __restrict__ v, int n, const Elbo4jStepState* __restrict__ state, float learning_rate,
            float beta1, float beta2, float epsilon, float weight_decay, int decoupled) {
  // The same value in every thread: a skipped step returns everywhere.
  if (state->apply == 0) return;
  const float scale = state->clip_scale;
  const float step_size = state->step_size;
  const float inverse_correction2_sqrt = state->inverse_correction2_sqrt;
  const float l2 = decoupled ? 0.0f : weight_decay;
  const float decay = decoupled ? 1.0f - learning_rate * weight_decay : 1.0f;
  const float one_minus_beta1 = 1.0f - beta1;
  const float one_minus_beta2 = 1.0f - beta2;
  // Unsigned: i < n < 2^31 and the stride is at most n + 255 (gridDim ceil(n / 256)).
  const unsigned int stride = gridDim.x * blockDim.x;
  for (unsigned int i = blockIdx.x * blockDim.x + threadIdx.x; i < (unsigned int)n; i += stride) {
    const float p = params[i];
    const float g = scale * grads[i] + l2 * p;
    const float m_new = beta1 * m[i] + one_minus_beta1 * g;
    const float v_new = beta2 * v[i] + one_minus_beta2 * g * g;
    m[i] = m_new;
    v[i] = v_new;
    params[i] = p * decay - step_size * m_new / (sqrtf(v_new) * inverse_correction2_sqrt + epsilon);
  }
}
