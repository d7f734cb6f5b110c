// Runs a kernel grid on the CPU: blocks in parallel on a small pool of OS threads, the threads of a
// block as fibers on one OS thread (see device_emu.h for the semantics the kernels get).
#ifndef ELBO4J_EMU_GRID_RUNNER_H
#define ELBO4J_EMU_GRID_RUNNER_H

#include <cstddef>
#include <functional>
#include <string>

#include "kernel_abi.h"

namespace elbo4j_emu {

constexpr unsigned kMaxThreadsPerBlock = 1024;

struct GridLaunch {
  const KernelEntry* kernel;
  const unsigned char* params;  // packed like CUDA's parameter buffer (KernelEntry::params)
  dim3 grid;
  dim3 block;                   // at most kMaxThreadsPerBlock threads (checked by the caller)
};

// Runs every block of the grid. Returns false, with a one-line description in *error, when a block
// deadlocks or misuses a barrier or warp intrinsic; the remaining blocks are then not started.
bool run_grid(const GridLaunch& launch, std::string* error);

// Calls body(i) for every i in [0, count), spread over the worker pool.
void parallel_for(std::size_t count, const std::function<void(std::size_t)>& body);

// How many OS threads execute blocks (ELBO4J_EMU_THREADS, else the number of processors).
unsigned worker_count();

// The kernels compiled into this library, by name (nullptr when unknown).
const KernelEntry* find_kernel(const std::string& name);
std::size_t kernel_count();
const KernelEntry* kernel_at(std::size_t index);

}  // namespace elbo4j_emu

#endif  // ELBO4J_EMU_GRID_RUNNER_H
