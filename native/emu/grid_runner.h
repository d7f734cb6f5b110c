// Runs a kernel grid on the CPU: blocks in parallel on a small pool of OS threads, the threads of a
// block as fibers on one OS thread (see device_emu.h for the semantics the kernels get).
#ifndef ELBO4J_EMU_GRID_RUNNER_H
#define ELBO4J_EMU_GRID_RUNNER_H

#include <cstddef>
#include <cstdint>
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

// Which ready fiber of a block runs next. Fifo: the order fibers became ready in (thread order at
// the start and after a barrier; the thread that completes a barrier or a warp exchange carries
// on). Warps: adversarial and seeded; at the start and after every barrier a random warp runs as
// far as it can (up to a barrier, or until every one of its lanes waits), the lanes of the running
// warp are picked at random, and when it can go no further another random warp takes over. A warp
// running far ahead of the others exposes a missing barrier that fifo hides.
struct Schedule {
  enum class Kind { Fifo, Warps };
  Kind kind = Kind::Fifo;
  std::uint64_t seed = 0;  // Warps only
};

// Parses ELBO4J_EMU_SCHEDULE's syntax: "fifo" (or empty), "warps:SEED" (SEED a decimal 64-bit
// number) or "warps" (a seed from the clock). False, with *error set, for anything else.
bool parse_schedule(const char* text, Schedule* schedule, std::string* error);
// "fifo" or "warps:SEED": the text that selects the same schedule again.
std::string schedule_name(const Schedule& schedule);
// The schedule of later launches (initially fifo; cuInit sets the one ELBO4J_EMU_SCHEDULE names).
// Launches are numbered from 0 in the order they run; with a Warps schedule, the fibers of block b
// of launch n run in an order that depends only on (seed, n, b), so a run repeats exactly.
void set_schedule(const Schedule& schedule);
Schedule current_schedule();

// How a launch failed, mapped by the driver onto CUDA's codes.
enum class FaultKind {
  LaunchFailed,       // deadlock, barrier or warp intrinsic misuse, __trap(): CUDA_ERROR_LAUNCH_FAILED
  MisalignedAddress,  // a vector access off its alignment: CUDA_ERROR_MISALIGNED_ADDRESS
};
struct LaunchFault {
  FaultKind kind = FaultKind::LaunchFailed;
  std::string message;  // one line: what happened, where, and the schedule it happened under
};

// Runs every block of the grid. Returns false, with *fault set, when a block faults (deadlock,
// misuse of a barrier or warp intrinsic, __trap(), a misaligned vector access); the remaining
// blocks are then not started.
bool run_grid(const GridLaunch& launch, LaunchFault* fault);

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
