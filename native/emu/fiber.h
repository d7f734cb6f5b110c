// User-level context switching for the fibers that play CUDA threads.
// x86-64: a few instructions of assembly that save the callee-saved registers on the current stack
// and swap stack pointers (no system call). glibc's swapcontext also saves the signal mask with a
// system call per switch (about 1 us), which would make a 4096-block x 256-thread reduction take tens
// of seconds; it stays as the portable fallback for other architectures (and on x86-64 when built with
// -DELBO4J_EMU_UCONTEXT, to test that fallback).
#ifndef ELBO4J_EMU_FIBER_H
#define ELBO4J_EMU_FIBER_H

#include <cstddef>

#if !defined(__x86_64__) || defined(ELBO4J_EMU_UCONTEXT)
#define ELBO4J_EMU_FIBERS_UCONTEXT 1
#include <ucontext.h>
#endif

namespace elbo4j_emu {

struct FiberContext {
#if !defined(ELBO4J_EMU_FIBERS_UCONTEXT)
  void* stack_pointer = nullptr;  // everything else lives on the fiber's own stack
#else
  ucontext_t context;
#endif
};

// Makes `context` start `entry` (which must never return) on the given stack when first switched to.
void fiber_prepare(FiberContext* context, char* stack_base, std::size_t stack_size, void (*entry)());

// Saves the running context into `from` and resumes `to`. Returns when something switches back to `from`.
void fiber_switch(FiberContext* from, FiberContext* to);

}  // namespace elbo4j_emu

#endif  // ELBO4J_EMU_FIBER_H
