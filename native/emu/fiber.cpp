#include "fiber.h"

#include <cstdint>

namespace elbo4j_emu {

#if !defined(ELBO4J_EMU_FIBERS_UCONTEXT)

// void elbo4j_emu_switch_stack(void** save_sp, void* new_sp)
// Pushes the System V callee-saved integer registers, stores rsp into *save_sp, loads new_sp and pops
// the other context's registers; `ret` continues where that context called this function (or at its
// entry point, for a fresh fiber). MXCSR and the x87 control word are callee-saved too, but no code
// that runs on a fiber changes them, so they are not swapped (ldmxcsr is slow).
asm(R"(
    .text
    .p2align 4
    .globl elbo4j_emu_switch_stack
    .hidden elbo4j_emu_switch_stack
    .type elbo4j_emu_switch_stack, @function
elbo4j_emu_switch_stack:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size elbo4j_emu_switch_stack, .-elbo4j_emu_switch_stack
)");

extern "C" void elbo4j_emu_switch_stack(void** save_sp, void* new_sp);

void fiber_prepare(FiberContext* context, char* stack_base, std::size_t stack_size, void (*entry)()) {
  // Top of stack, 16-byte aligned. Layout (growing down): a null fake return address for `entry`,
  // the address `ret` jumps to (entry), then six zeroed registers for the pops (rbp = 0 ends frame
  // walks). After `ret`, rsp = top - 8: the alignment a function expects at its first instruction.
  auto top = reinterpret_cast<std::uintptr_t>(stack_base + stack_size) & ~std::uintptr_t{15};
  auto* slot = reinterpret_cast<void**>(top);
  *--slot = nullptr;
  *--slot = reinterpret_cast<void*>(entry);
  for (int i = 0; i < 6; ++i) *--slot = nullptr;
  context->stack_pointer = slot;
}

void fiber_switch(FiberContext* from, FiberContext* to) {
  elbo4j_emu_switch_stack(&from->stack_pointer, to->stack_pointer);
}

#else  // portable fallback

void fiber_prepare(FiberContext* context, char* stack_base, std::size_t stack_size, void (*entry)()) {
  getcontext(&context->context);
  context->context.uc_stack.ss_sp = stack_base;
  context->context.uc_stack.ss_size = stack_size;
  context->context.uc_link = nullptr;
  makecontext(&context->context, entry, 0);
}

void fiber_switch(FiberContext* from, FiberContext* to) { swapcontext(&from->context, &to->context); }

#endif

}  // namespace elbo4j_emu
