// The per-step scalars of a training run, resident on the device (dev.elbo4j.nn.StepStatus is the host's view;
// dev.elbo4j.kernels.DeviceStepState reads and writes this layout). A training step is captured once as a CUDA
// graph, which freezes every kernel argument; whatever changes from one step to the next (the Philox offset,
// the batch cursor, the warm-up beta, the KL weights, Adam's bias correction and clipping factor, whether the
// update is applied) is therefore read from here and advanced here by the kernels themselves.
//
// Who writes what, in step order:
//   elbo4j_gather_rows       reads step (noise offset), cursor
//   (latent forward/backward read step as their noise offset)
//   elbo4j_loss_totals       reads step (the KL warm-up's t); writes loss, elbo, kl, beta, the epoch sums
//                            (loss_sum, elbo_sum, kl_sum, summed_steps)
//   elbo4j_grad_norm_final   gradient_norm
//   elbo4j_adam_prepare      reads loss, gradient_norm; writes the guard: apply, clip_scale, step_size,
//                            inverse_correction2_sqrt, updates, skipped, skipped_in_a_row
//   elbo4j_adam              reads apply, clip_scale, step_size, inverse_correction2_sqrt
//   elbo4j_step_advance      step += 1, cursor += rows
// The host writes the whole state between steps (a new run, a resume, an epoch start) and reads it when it
// reports progress.
#pragma once

struct Elbo4jStepState {
  unsigned long long step;              //   0: steps begun before this one; its low 32 bits (the first 4 bytes,
                                        //      little-endian) are this step's Philox offset
  unsigned long long updates;           //   8: Adam updates applied; the next one has t = updates + 1
  unsigned long long cursor;            //  16: position of this step's first row in the epoch's shuffled order
  unsigned long long skipped;           //  24: steps the non-finite guard skipped, in total
  unsigned long long skipped_in_a_row;  //  32: steps skipped since the last applied update
  unsigned long long summed_steps;      //  40: steps in the epoch sums
  double loss_sum;                      //  48: epoch sums of the finite steps' loss, ELBO and KL
  double elbo_sum;                      //  56
  double kl_sum;                        //  64
  float loss;                           //  72: the step's loss (with its beta and free bits)
  float elbo;                           //  76: the step's mean ELBO (beta = 1)
  float kl;                             //  80: the step's mean KL
  float beta;                           //  84: the step's KL weight after warm-up
  float gradient_norm;                  //  88: the step's global gradient L2 norm, before clipping
  // The guard's decision, from elbo4j_adam_prepare to elbo4j_adam of the same step (not part of StepStatus):
  unsigned int apply;                   //  92: 1: update; 0: the loss or the norm was not finite, skip
  float clip_scale;                     //  96: min(1, max_grad_norm / (gradient_norm + 1e-6)), or 1
  float step_size;                      // 100: lr / (1 - beta1^t)
  float inverse_correction2_sqrt;       // 104: 1 / sqrt(1 - beta2^t)
  unsigned int reserved;                // 108: keeps the size a multiple of 8
};                                      // 112 bytes
