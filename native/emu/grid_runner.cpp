// Block scheduling: the CUDA threads of a block are fibers on one OS thread. A fiber runs until it
// reaches a barrier, a warp exchange point or its end, then hands the OS thread directly to the next
// ready fiber (or back to the block's scheduler when none is ready). A block is finished when every
// fiber has exited; when no fiber is ready but some have not exited, nothing can ever wake them:
// the block is deadlocked and the launch fails with a description of who waits where. Which ready
// fiber runs next is the schedule's choice (Schedule in grid_runner.h).
#include "grid_runner.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "fiber.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define ELBO4J_EMU_ASAN 1
#else
#define ELBO4J_EMU_ASAN 0
#endif

namespace elbo4j_emu {

__thread const ThreadCoords* current_thread = nullptr;
__thread const BlockCoords* current_block = nullptr;

}  // namespace elbo4j_emu

// This thread's copy of the kernels' __shared__ variables lies in [begin, end): symbols of the linker
// script native/emu/shared_memory.ld, which gathers the thread-local data of the kernel objects there.
extern __thread unsigned char elbo4j_emu_shared_begin[];
extern __thread unsigned char elbo4j_emu_shared_end[];
// Initialized, so that the range's section holds data (see the script); poisoned with the rest.
__attribute__((section(".tdata.elbo4j_emu_shared_head"), used)) __thread unsigned char elbo4j_emu_shared_head = 0xff;

namespace elbo4j_emu {
namespace {

constexpr unsigned kWarpSize = 32;
constexpr unsigned kWarpsPerBlock = kMaxThreadsPerBlock / kWarpSize;
// Kernel frames are small; the margin is for libm and printf. AddressSanitizer's redzones make
// frames several times larger. Only the touched pages of a stack are ever committed.
constexpr std::size_t kStackBytes = ELBO4J_EMU_ASAN ? 512 * 1024 : 128 * 1024;
// What a shuffle returns when its source lane does not take part (undefined on the GPU): a NaN as
// float/double, an implausible integer otherwise, so that a result built on it shows.
constexpr std::uint32_t kPoison32 = 0x7fc0deadu;
constexpr std::uint64_t kPoison64 = 0x7ff8deaddeaddeadull;

enum class FiberState : unsigned char { Ready, AtBarrier, AtWarp, Exited };

struct Fiber {
  ThreadCoords coords;  // what threadIdx reads while this fiber runs
  FiberContext context;
  char* stack = nullptr;  // lowest usable address; a guard page lies below it
  unsigned linear = 0;
  FiberState state = FiberState::Ready;
  const char* site_file = nullptr;  // where it waits (barrier or warp intrinsic)
  int site_line = 0;
  // A pending warp exchange.
  WarpOp op = WarpOp::SyncWarp;
  unsigned value_bytes = 0;
  unsigned mask = 0;
  std::uint64_t value = 0;
  int arg = 0;
  int width = 0;
  std::uint64_t result = 0;
};

struct WarpState {
  std::uint32_t live;     // lanes that exist in this block and have not exited
  std::uint32_t waiting;  // lanes blocked in a warp exchange
};

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::ShflIdx: return "__shfl_sync";
    case WarpOp::ShflUp: return "__shfl_up_sync";
    case WarpOp::ShflDown: return "__shfl_down_sync";
    case WarpOp::ShflXor: return "__shfl_xor_sync";
    case WarpOp::Ballot: return "__ballot_sync";
    case WarpOp::Any: return "__any_sync";
    case WarpOp::All: return "__all_sync";
    case WarpOp::SyncWarp: return "__syncwarp";
    case WarpOp::ActiveMask: return "__activemask";
  }
  return "?";
}

bool is_shuffle(WarpOp op) {
  return op == WarpOp::ShflIdx || op == WarpOp::ShflUp || op == WarpOp::ShflDown || op == WarpOp::ShflXor;
}

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof buffer, fmt, args);
  va_end(args);
  return buffer;
}

// The seeded generator of the Warps schedule (splitmix64: one state word, good enough to pick lanes).
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::mutex schedule_mutex;
Schedule schedule_in_force;
std::uint64_t launches_run = 0;  // numbers the launches, for the Warps schedule's per-block streams

class BlockRunner;
__thread BlockRunner* tls_runner = nullptr;

[[noreturn]] void fiber_main();

class BlockRunner {
 public:
  BlockRunner() {
    // Poisoning the emulator's own thread-locals would corrupt this runner: refuse a build whose
    // linker put any of them in the shared range.
    shared_begin_ = elbo4j_emu_shared_begin;
    shared_bytes_ = static_cast<std::size_t>(elbo4j_emu_shared_end - elbo4j_emu_shared_begin);
    for (const void* own : {static_cast<const void*>(&current_thread), static_cast<const void*>(&current_block),
                            static_cast<const void*>(&tls_runner)}) {
      const auto* byte = static_cast<const unsigned char*>(own);
      if (byte >= shared_begin_ && byte < shared_begin_ + shared_bytes_) {
        std::fprintf(stderr, "elbo4j-cudaemu: the __shared__ range [%p, +%zu) holds the emulator's own thread-local "
                     "%p: link with native/emu/shared_memory.ld as native/emu/emulator.mk does\n",
                     static_cast<void*>(shared_begin_), shared_bytes_, own);
        std::abort();
      }
    }
#if ELBO4J_EMU_ASAN
    // The OS thread's own stack, announced to AddressSanitizer when switching back to the scheduler.
    pthread_attr_t attr;
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstack(&attr, &os_stack_bottom_, &os_stack_size_);
    pthread_attr_destroy(&attr);
#endif
  }

  BlockRunner(const BlockRunner&) = delete;
  BlockRunner& operator=(const BlockRunner&) = delete;

  ~BlockRunner() {
    for (Fiber& f : fibers_) {
      if (f.stack != nullptr) munmap(f.stack - page_size(), kStackBytes + page_size());
    }
  }

  // Runs one block to completion under `schedule` (its seed already mixed with the launch and block
  // numbers). False (with *fault set) on deadlock, misuse, __trap() or a misaligned vector access.
  bool run_block(const GridLaunch& launch, uint3 block_idx, const Schedule& schedule, LaunchFault* fault) {
    launch_ = &launch;
    thread_count_ = launch.block.x * launch.block.y * launch.block.z;
    allocate_stacks(thread_count_);
    block_ = BlockCoords{block_idx, launch.block, launch.grid};
    current_block = &block_;
    live_count_ = thread_count_;
    barrier_arrivals_ = 0;
    failed_ = false;
    warps_schedule_ = schedule.kind == Schedule::Kind::Warps;
    random_state_ = schedule.seed;
    ready_head_ = 0;
    ready_count_ = 0;
    ready_warps_ = 0;
    const unsigned warp_count = (thread_count_ + kWarpSize - 1) / kWarpSize;
    for (unsigned w = 0; w < warp_count; ++w) {
      const unsigned lanes = std::min(kWarpSize, thread_count_ - w * kWarpSize);
      warps_[w] = WarpState{lanes == kWarpSize ? 0xffffffffu : (1u << lanes) - 1u, 0};
      ready_lanes_[w] = 0;
    }
    // Shared memory holds garbage when a block starts on the GPU: here every byte is 0xff.
    std::memset(shared_begin_, 0xff, shared_bytes_);
    const unsigned bx = launch.block.x, by = launch.block.y;
    for (unsigned t = 0; t < thread_count_; ++t) {
      Fiber& f = fibers_[t];
      f.coords.thread_idx = uint3{t % bx, (t / bx) % by, t / (bx * by)};
      f.linear = t;
      f.state = FiberState::Ready;
      fiber_prepare(&f.context, f.stack, kStackBytes, fiber_main);
      push_ready(&f);
    }
    pick_random_warp();
    switch_to(nullptr, pop_ready(), false);
    // Back on the scheduler: every fiber exited, or none can run any more, or one reported misuse.
    if (!failed_ && live_count_ != 0) fail_with(FaultKind::LaunchFailed, describe_deadlock());
    current_thread = nullptr;
    if (failed_) {
      abandon_stacks();
      *fault = fault_;
      return false;
    }
    return true;
  }

  // The body of every fiber: the kernel, then exit.
  [[noreturn]] void run_current_fiber() {
#if ELBO4J_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
    Fiber* self = running_;
    launch_->kernel->invoke(launch_->kernel->kernel, launch_->params);
    thread_exited(self);
    switch_to(self, pop_ready(), true);
    std::abort();  // an exited fiber is never resumed
  }

  void sync_threads(const char* file, int line) {
    Fiber* self = running_;
    if (barrier_arrivals_ == 0) {
      barrier_file_ = file;
      barrier_line_ = line;
    } else if (!same_site(file, line, barrier_file_, barrier_line_)) {
      fail(self, FaultKind::LaunchFailed,
           format("threads wait at different __syncthreads: thread %s at %s:%d, %u other thread(s) at %s:%d",
                  thread_name(self).c_str(), file, line, barrier_arrivals_, barrier_file_, barrier_line_));
    }
    self->state = FiberState::AtBarrier;
    self->site_file = file;
    self->site_line = line;
    if (++barrier_arrivals_ < thread_count_) {
      block(self);
      return;
    }
    // The last thread arrived: release the others in thread order. Fifo: this thread carries on.
    // Warps: a random warp goes first, perhaps not this thread's.
    barrier_arrivals_ = 0;
    self->state = FiberState::Ready;
    for (unsigned t = 0; t < thread_count_; ++t) {
      Fiber& f = fibers_[t];
      if (&f == self && !warps_schedule_) continue;
      f.state = FiberState::Ready;
      push_ready(&f);
    }
    if (warps_schedule_) {
      pick_random_warp();
      yield(self);
    }
  }

  // __trap() and misaligned vector accesses: the running fiber's block stops with a fault.
  [[noreturn]] void fault(FaultKind kind, const std::string& what) {
    fail(running_, kind, format("thread %s %s", thread_name(running_).c_str(), what.c_str()));
  }

  std::uint64_t warp_exchange(const char* file, int line, WarpOp op, unsigned value_bytes, unsigned mask,
                              std::uint64_t value, int arg, int width) {
    Fiber* self = running_;
    const unsigned warp = self->linear / kWarpSize, lane = self->linear % kWarpSize;
    if (((mask >> lane) & 1u) == 0) {
      fail(self, FaultKind::LaunchFailed,
           format("thread %s (warp %u lane %u) calls %s at %s:%d with mask 0x%08x, which leaves out its own lane",
                  thread_name(self).c_str(), warp, lane, op_name(op), file, line, mask));
    }
    if (is_shuffle(op) && (width < 1 || width > 32 || (width & (width - 1)) != 0)) {
      fail(self, FaultKind::LaunchFailed,
           format("thread %s calls %s at %s:%d with width %d; width must be a power of two in [1, 32]",
                  thread_name(self).c_str(), op_name(op), file, line, width));
    }
    self->state = FiberState::AtWarp;
    self->site_file = file;
    self->site_line = line;
    self->op = op;
    self->value_bytes = value_bytes;
    self->mask = mask;
    self->value = value;
    self->arg = arg;
    self->width = width;
    warps_[warp].waiting |= 1u << lane;
    if (!try_complete_exchange(warp, mask)) {
      block(self);
    } else if (warps_schedule_) {
      yield(self);  // the lanes just released may go first
    }
    return self->result;
  }

 private:
  static std::size_t page_size() {
    static const std::size_t size = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    return size;
  }

  // Stacks are created on first need and kept for every later block and launch on this OS thread.
  void allocate_stacks(unsigned count) {
    for (unsigned t = 0; t < count; ++t) {
      Fiber& f = fibers_[t];
      if (f.stack != nullptr) continue;
      const std::size_t total = kStackBytes + page_size();
      void* region = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (region == MAP_FAILED) {
        std::fprintf(stderr, "elbo4j-cudaemu: cannot map a %zu-byte fiber stack\n", total);
        std::abort();
      }
      mprotect(region, page_size(), PROT_NONE);  // overflow faults instead of corrupting the next stack
      f.stack = static_cast<char*>(region) + page_size();
    }
  }

  // Fibers left mid-kernel by a failed block never unwind; clear the redzones their frames left so
  // that the stacks can be reused.
  void abandon_stacks() {
#if ELBO4J_EMU_ASAN
    // All of them: the fiber that reported the failure may already count as exited.
    for (unsigned t = 0; t < thread_count_; ++t) __asan_unpoison_memory_region(fibers_[t].stack, kStackBytes);
#endif
  }

  // The ready fibers: a queue under Fifo; under Warps a set of lanes per warp, and the warp that runs.
  void push_ready(Fiber* f) {
    if (warps_schedule_) {
      const unsigned warp = f->linear / kWarpSize;
      ready_lanes_[warp] |= 1u << (f->linear % kWarpSize);
      ready_warps_ |= 1u << warp;
      return;
    }
    ready_[(ready_head_ + ready_count_) % kMaxThreadsPerBlock] = static_cast<std::uint16_t>(f->linear);
    ++ready_count_;
  }

  // Fifo: the longest-ready fiber. Warps: a random ready lane of the running warp, else of a random
  // warp that has one (the running warp has gone as far as it can).
  Fiber* pop_ready() {
    if (warps_schedule_) {
      if (ready_warps_ == 0) return nullptr;
      if (((ready_warps_ >> running_warp_) & 1u) == 0) pick_random_warp();
      const unsigned lane = random_bit(ready_lanes_[running_warp_]);
      ready_lanes_[running_warp_] &= ~(1u << lane);
      if (ready_lanes_[running_warp_] == 0) ready_warps_ &= ~(1u << running_warp_);
      return &fibers_[running_warp_ * kWarpSize + lane];
    }
    if (ready_count_ == 0) return nullptr;
    Fiber* f = &fibers_[ready_[ready_head_]];
    ready_head_ = (ready_head_ + 1) % kMaxThreadsPerBlock;
    --ready_count_;
    return f;
  }

  // Warps: the next fiber comes from a random warp with ready lanes (no effect under Fifo).
  void pick_random_warp() {
    if (warps_schedule_ && ready_warps_ != 0) running_warp_ = random_bit(ready_warps_);
  }

  // A uniformly random set bit of a non-zero mask.
  unsigned random_bit(std::uint32_t mask) {
    const auto count = static_cast<std::uint64_t>(__builtin_popcount(mask));
    for (auto skip = (splitmix64(random_state_) >> 32) * count >> 32; skip > 0; --skip) mask &= mask - 1;
    return static_cast<unsigned>(__builtin_ctz(mask));
  }

  // The running fiber (ready, in the ready set) lets the schedule choose who runs next, maybe itself.
  void yield(Fiber* self) {
    push_ready(self);
    Fiber* next = pop_ready();
    if (next != self) switch_to(self, next, false);
  }

  // Switches from `from` (nullptr: the scheduler) to `to` (nullptr: the scheduler). `dying`: `from`
  // has exited and will never be resumed.
  void switch_to(Fiber* from, Fiber* to, bool dying) {
    FiberContext* from_context = from != nullptr ? &from->context : &scheduler_;
    FiberContext* to_context = to != nullptr ? &to->context : &scheduler_;
    running_ = to;
    current_thread = to != nullptr ? &to->coords : nullptr;
#if ELBO4J_EMU_ASAN
    if (dying) {
      // An exited fiber's last frames (fiber_main down to here) never return, so their redzones stay
      // poisoned; the next fiber on this stack would inherit them, and AddressSanitizer's own stack
      // unpoisoning (before a noreturn call, e.g. a reported fault) trips over them: clear them now.
      char* const frame = static_cast<char*>(__builtin_frame_address(0));
      char* const low = std::max(from->stack, frame - 1024);
      __asan_unpoison_memory_region(low, static_cast<std::size_t>(from->stack + kStackBytes - low));
    }
    void* fake_stack = nullptr;
    __sanitizer_start_switch_fiber(dying ? nullptr : &fake_stack, to != nullptr ? to->stack : os_stack_bottom_,
                                   to != nullptr ? kStackBytes : os_stack_size_);
    fiber_switch(from_context, to_context);
    __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#else
    (void)dying;
    fiber_switch(from_context, to_context);
#endif
  }

  // The running fiber waits: hand the OS thread to the next ready fiber, or to the scheduler.
  void block(Fiber* self) { switch_to(self, pop_ready(), false); }

  void fail_with(FaultKind kind, std::string message) {
    if (!failed_) fault_ = LaunchFault{kind, std::move(message)};
    failed_ = true;
  }

  [[noreturn]] void fail(Fiber* self, FaultKind kind, std::string message) {
    fail_with(kind, std::move(message));
    switch_to(self, nullptr, false);
    std::abort();  // the scheduler abandons a failed block: this fiber is never resumed
  }

  static bool same_site(const char* file_a, int line_a, const char* file_b, int line_b) {
    return line_a == line_b && (file_a == file_b || std::strcmp(file_a, file_b) == 0);
  }

  std::string thread_name(const Fiber* f) const {
    const uint3& t = f->coords.thread_idx;
    return format("(%u,%u,%u) of block (%u,%u,%u)", t.x, t.y, t.z, block_.block_idx.x, block_.block_idx.y,
                  block_.block_idx.z);
  }

  void thread_exited(Fiber* self) {
    self->state = FiberState::Exited;
    --live_count_;
    if (barrier_arrivals_ > 0) {
      // __syncthreads counts every thread of the block: the waiting ones can never be released.
      fail(self, FaultKind::LaunchFailed,
           format("thread %s exited while %u thread(s) wait at __syncthreads (%s:%d)", thread_name(self).c_str(),
                  barrier_arrivals_, barrier_file_, barrier_line_));
    }
    const unsigned warp = self->linear / kWarpSize;
    WarpState& w = warps_[warp];
    w.live &= ~(1u << (self->linear % kWarpSize));
    // Exited lanes do not take part in warp exchanges: waiting groups may be complete now.
    for (std::uint32_t pending = w.waiting; pending != 0; pending &= w.waiting) {
      const unsigned lane = static_cast<unsigned>(__builtin_ctz(pending));
      pending &= ~(1u << lane);
      try_complete_exchange(warp, fibers_[warp * kWarpSize + lane].mask);
    }
  }

  // A warp exchange with `mask` completes when every live lane named in the mask waits in an
  // exchange with that same mask. Then all results are computed at once (lockstep), the other
  // lanes of the group become ready, and the running fiber (if it belongs to the group) carries on.
  bool try_complete_exchange(unsigned warp, unsigned mask) {
    WarpState& w = warps_[warp];
    const std::uint32_t group = mask & w.live;
    if (group == 0 || (w.waiting & group) != group) return false;
    Fiber* lanes = &fibers_[warp * kWarpSize];
    for (std::uint32_t g = group; g != 0; g &= g - 1) {
      if (lanes[__builtin_ctz(g)].mask != mask) return false;  // that lane waits for another group
    }
    const Fiber& first = lanes[__builtin_ctz(group)];
    for (std::uint32_t g = group; g != 0; g &= g - 1) {
      const Fiber& f = lanes[__builtin_ctz(g)];
      if (f.op != first.op || f.value_bytes != first.value_bytes) {
        fail(running_, FaultKind::LaunchFailed,
             format("warp %u of block (%u,%u,%u): lanes with mask 0x%08x meet at different intrinsics: "
                    "lane %u at %s (%s:%d, %u bytes), lane %u at %s (%s:%d, %u bytes)",
                    warp, block_.block_idx.x, block_.block_idx.y, block_.block_idx.z, mask, first.linear % kWarpSize,
                    op_name(first.op), first.site_file, first.site_line, first.value_bytes, f.linear % kWarpSize,
                    op_name(f.op), f.site_file, f.site_line, f.value_bytes));
      }
    }
    exchange(lanes, group, first.op);
    w.waiting &= ~group;
    for (std::uint32_t g = group; g != 0; g &= g - 1) {
      Fiber& f = lanes[__builtin_ctz(g)];
      f.state = FiberState::Ready;
      if (&f != running_) push_ready(&f);
    }
    return true;
  }

  // The lockstep exchange, with the source-lane rules of PTX shfl.sync: lanes form segments of
  // `width`; an out-of-segment source returns the lane's own value; a source lane that does not
  // take part in the exchange gives an undefined value on the GPU, here a poison value.
  static void exchange(Fiber* lanes, std::uint32_t group, WarpOp op) {
    if (op == WarpOp::SyncWarp) return;
    if (op == WarpOp::ActiveMask) {
      for (std::uint32_t g = group; g != 0; g &= g - 1) lanes[__builtin_ctz(g)].result = group;
      return;
    }
    if (op == WarpOp::Ballot || op == WarpOp::Any || op == WarpOp::All) {
      std::uint32_t ballot = 0;
      for (std::uint32_t g = group; g != 0; g &= g - 1) {
        const unsigned lane = static_cast<unsigned>(__builtin_ctz(g));
        if (lanes[lane].value != 0) ballot |= 1u << lane;
      }
      const std::uint64_t vote = op == WarpOp::Ballot ? ballot : op == WarpOp::Any ? ballot != 0 : ballot == group;
      for (std::uint32_t g = group; g != 0; g &= g - 1) lanes[__builtin_ctz(g)].result = vote;
      return;
    }
    for (std::uint32_t g = group; g != 0; g &= g - 1) {
      const int lane = __builtin_ctz(g);
      Fiber& f = lanes[lane];
      const int segment_mask = (32 - f.width) & 31;
      const int b = f.arg & 31;
      const int clamp = op == WarpOp::ShflUp ? 0 : 31;
      const int max_lane = (lane & segment_mask) | (clamp & ~segment_mask);
      const int min_lane = lane & segment_mask;
      int source = lane;
      bool in_range = false;
      switch (op) {
        case WarpOp::ShflUp: source = lane - b; in_range = source >= max_lane; break;
        case WarpOp::ShflDown: source = lane + b; in_range = source <= max_lane; break;
        case WarpOp::ShflXor: source = lane ^ b; in_range = source <= max_lane; break;
        default: source = min_lane | (b & ~segment_mask); in_range = source <= max_lane; break;
      }
      if (!in_range) {
        f.result = f.value;
      } else if (((group >> source) & 1u) != 0) {
        f.result = lanes[source].value;
      } else {
        f.result = f.value_bytes == 8 ? kPoison64 : kPoison32;
      }
    }
  }

  std::string describe_deadlock() const {
    unsigned at_barrier = 0, exited = 0;
    for (unsigned t = 0; t < thread_count_; ++t) {
      if (fibers_[t].state == FiberState::AtBarrier) ++at_barrier;
      if (fibers_[t].state == FiberState::Exited) ++exited;
    }
    std::string text = format("deadlock in block (%u,%u,%u) of %u threads:", block_.block_idx.x,
                              block_.block_idx.y, block_.block_idx.z, thread_count_);
    if (at_barrier > 0) {
      text += format(" %u thread(s) wait at __syncthreads (%s:%d);", at_barrier, barrier_file_, barrier_line_);
    }
    unsigned listed = 0;
    const unsigned warp_count = (thread_count_ + kWarpSize - 1) / kWarpSize;
    for (unsigned w = 0; w < warp_count; ++w) {
      if (warps_[w].waiting == 0) continue;
      if (++listed > 4) {
        text += " ...;";
        break;
      }
      const Fiber& f = fibers_[w * kWarpSize + static_cast<unsigned>(__builtin_ctz(warps_[w].waiting))];
      text += format(" warp %u lanes 0x%08x wait at %s (%s:%d) with mask 0x%08x (live lanes 0x%08x);", w,
                     warps_[w].waiting, op_name(f.op), f.site_file, f.site_line, f.mask, warps_[w].live);
    }
    if (exited > 0) text += format(" %u thread(s) have exited;", exited);
    text.pop_back();
    return text;
  }

  const GridLaunch* launch_ = nullptr;
  BlockCoords block_{};
  unsigned thread_count_ = 0;
  unsigned live_count_ = 0;
  unsigned barrier_arrivals_ = 0;
  const char* barrier_file_ = "";
  int barrier_line_ = 0;
  Fiber* running_ = nullptr;
  bool failed_ = false;
  LaunchFault fault_;
  unsigned char* shared_begin_ = nullptr;
  std::size_t shared_bytes_ = 0;
  bool warps_schedule_ = false;
  std::uint64_t random_state_ = 0;
  unsigned running_warp_ = 0;  // Warps: the warp whose lanes pop_ready prefers
  std::uint32_t ready_warps_ = 0;
  std::array<std::uint32_t, kWarpsPerBlock> ready_lanes_{};
  FiberContext scheduler_;
  std::array<Fiber, kMaxThreadsPerBlock> fibers_;
  std::array<std::uint16_t, kMaxThreadsPerBlock> ready_{};
  unsigned ready_head_ = 0;
  unsigned ready_count_ = 0;
  std::array<WarpState, kWarpsPerBlock> warps_{};
#if ELBO4J_EMU_ASAN
  void* os_stack_bottom_ = nullptr;
  std::size_t os_stack_size_ = 0;
#endif
};

void fiber_main() { tls_runner->run_current_fiber(); }

// A fixed set of OS threads, each with its own BlockRunner, that run one task at a time. The caller
// waits without executing fibers itself: JVM threads keep their own stacks and signal handling.
class WorkerPool {
 public:
  static WorkerPool& instance() {
    static WorkerPool* pool = new WorkerPool();  // never destroyed: workers outlive static destruction
    return *pool;
  }

  unsigned size() const { return static_cast<unsigned>(workers_.size()); }

  // Runs task(worker) on `participants` workers (at most size()) and waits for all of them.
  void run(unsigned participants, const std::function<void(unsigned)>& task) {
    std::lock_guard<std::mutex> one_job_at_a_time(submit_mutex_);
    std::unique_lock<std::mutex> lock(mutex_);
    task_ = &task;
    participants_ = std::min(participants, size());
    unfinished_ = participants_;
    ++generation_;
    start_.notify_all();
    done_.wait(lock, [this] { return unfinished_ == 0; });
    task_ = nullptr;
  }

 private:
  WorkerPool() {
    unsigned count = std::max(1u, std::thread::hardware_concurrency());
    if (const char* env = std::getenv("ELBO4J_EMU_THREADS")) {
      const long requested = std::strtol(env, nullptr, 10);
      if (requested >= 1 && requested <= 256) count = static_cast<unsigned>(requested);
    }
    // Workers block the asynchronous signals: process signals (SIGINT, SIGQUIT for JVM thread dumps,
    // ...) go to the host program's own threads. Faults (a kernel's stray access) stay deliverable, so
    // the JVM's or AddressSanitizer's handler reports them.
    sigset_t blocked, previous;
    sigfillset(&blocked);
    for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) sigdelset(&blocked, fault);
    pthread_sigmask(SIG_BLOCK, &blocked, &previous);
    for (unsigned i = 0; i < count; ++i) workers_.emplace_back([this, i] { work(i); });
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    for (std::thread& t : workers_) t.detach();
  }

  void work(unsigned index) {
    BlockRunner runner;
    tls_runner = &runner;
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      start_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (index >= participants_) continue;
      const std::function<void(unsigned)>* task = task_;
      lock.unlock();
      (*task)(index);
      lock.lock();
      if (--unfinished_ == 0) done_.notify_all();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex submit_mutex_;
  std::mutex mutex_;
  std::condition_variable start_;
  std::condition_variable done_;
  const std::function<void(unsigned)>* task_ = nullptr;
  unsigned participants_ = 0;
  unsigned unfinished_ = 0;
  std::uint64_t generation_ = 0;
};

}  // namespace

void sync_threads(const char* file, int line) { tls_runner->sync_threads(file, line); }

void trap(const char* file, int line) {
  tls_runner->fault(FaultKind::LaunchFailed, format("called __trap() at %s:%d", file, line));
}

void misaligned_vector_access(const char* type, std::size_t alignment, const void* address, bool store,
                              const char* file, int line) {
  std::string what = format("%s a %s at %p, which is not %zu-byte aligned", store ? "stores" : "loads", type,
                            address, alignment);
  if (file != nullptr) what += format(" (%s:%d)", file, line);
  tls_runner->fault(FaultKind::MisalignedAddress, what);
}

std::uint64_t warp_exchange(const char* file, int line, WarpOp op, unsigned value_bytes, unsigned mask,
                            std::uint64_t value, int arg, int width) {
  return tls_runner->warp_exchange(file, line, op, value_bytes, mask, value, arg, width);
}

unsigned worker_count() { return WorkerPool::instance().size(); }

bool parse_schedule(const char* text, Schedule* schedule, std::string* error) {
  const std::string value = text != nullptr ? text : "";
  if (value.empty() || value == "fifo") {
    *schedule = Schedule{};
    return true;
  }
  if (value == "warps") {
    *schedule = Schedule{Schedule::Kind::Warps,
                         static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count())};
    return true;
  }
  const std::string prefix = "warps:";
  const bool digits = value.size() > prefix.size() && value.size() <= prefix.size() + 20 &&
                      value.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
  if (value.compare(0, prefix.size(), prefix) == 0 && digits) {
    errno = 0;
    const unsigned long long seed = std::strtoull(value.c_str() + prefix.size(), nullptr, 10);
    if (errno == 0) {
      *schedule = Schedule{Schedule::Kind::Warps, seed};
      return true;
    }
  }
  *error = "'" + value + "' is not a schedule: use fifo, warps (a seed from the clock) or warps:SEED (SEED a "
           "decimal number below 2^64)";
  return false;
}

std::string schedule_name(const Schedule& schedule) {
  if (schedule.kind == Schedule::Kind::Fifo) return "fifo";
  return "warps:" + std::to_string(static_cast<unsigned long long>(schedule.seed));
}

void set_schedule(const Schedule& schedule) {
  std::lock_guard<std::mutex> lock(schedule_mutex);
  schedule_in_force = schedule;
}

Schedule current_schedule() {
  std::lock_guard<std::mutex> lock(schedule_mutex);
  return schedule_in_force;
}

bool run_grid(const GridLaunch& launch, LaunchFault* fault) {
  Schedule schedule;
  std::uint64_t launch_number;
  {
    std::lock_guard<std::mutex> lock(schedule_mutex);
    schedule = schedule_in_force;
    launch_number = launches_run++;
  }
  // Each block's random stream depends on (seed, launch, block) only: which worker runs it, and when,
  // does not matter.
  std::uint64_t launch_stream = schedule.seed ^ 0x5851f42d4c957f2dull * (launch_number + 1);
  const std::uint64_t launch_seed = splitmix64(launch_stream);
  const std::uint64_t gx = launch.grid.x, gy = launch.grid.y;
  const std::uint64_t total = gx * gy * launch.grid.z;
  std::atomic<std::uint64_t> next_block{0};
  std::atomic<bool> failed{false};
  std::mutex fault_mutex;
  WorkerPool& pool = WorkerPool::instance();
  const unsigned participants = static_cast<unsigned>(std::min<std::uint64_t>(pool.size(), total));
  pool.run(participants, [&](unsigned) {
    BlockRunner& runner = *tls_runner;
    LaunchFault block_fault;
    while (!failed.load(std::memory_order_relaxed)) {
      const std::uint64_t b = next_block.fetch_add(1, std::memory_order_relaxed);
      if (b >= total) break;
      const uint3 block_idx{static_cast<unsigned>(b % gx), static_cast<unsigned>((b / gx) % gy),
                            static_cast<unsigned>(b / (gx * gy))};
      std::uint64_t block_stream = launch_seed ^ 0x2545f4914f6cdd1dull * (b + 1);
      const Schedule block_schedule{schedule.kind, splitmix64(block_stream)};
      if (!runner.run_block(launch, block_idx, block_schedule, &block_fault)) {
        std::lock_guard<std::mutex> lock(fault_mutex);
        if (!failed.exchange(true)) *fault = block_fault;
        break;
      }
    }
  });
  if (!failed.load()) return true;
  fault->message += " [schedule " + schedule_name(schedule) + ", launch " + std::to_string(launch_number) + "]";
  return false;
}

void parallel_for(std::size_t count, const std::function<void(std::size_t)>& body) {
  std::atomic<std::size_t> next{0};
  WorkerPool& pool = WorkerPool::instance();
  pool.run(static_cast<unsigned>(std::min<std::size_t>(pool.size(), count)), [&](unsigned) {
    for (std::size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) body(i);
  });
}

}  // namespace elbo4j_emu
