// The end of a training step (step_state.cuh): the step counter, whose low 32 bits are the next step's Philox
// offset, and the batch cursor move on. The last kernel of a step: nothing after it in the step reads them.
#include "step_state.cuh"

// rows: the batch's rows, the cursor's advance. Launch: blockDim 1, gridDim 1.
extern "C" __global__ void __launch_bounds__(1)
elbo4j_step_advance(Elbo4jStepState* __restrict__ state, int rows) {
  state->step += 1;
  state->cursor += (unsigned long long)rows;
}
