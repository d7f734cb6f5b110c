// What kernel objects and the emulator's runtime share: CUDA's built-in vector types, the coordinates
// a running fiber reads, the synchronization entry points, and kernel registration. Free of the
// dialect's macros (device_emu.h), so the runtime can include it together with system headers.
#ifndef ELBO4J_EMU_KERNEL_ABI_H
#define ELBO4J_EMU_KERNEL_ABI_H

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

namespace elbo4j_emu {
// A vector type accessed at an address off its alignment: on the GPU a misaligned access faults
// (CUDA_ERROR_MISALIGNED_ADDRESS); here the running block fails with the same code. `file`/`line`
// name the access when known (loads), else nullptr/0 (stores).
[[noreturn]] void misaligned_vector_access(const char* type, std::size_t alignment, const void* address,
                                           bool store, const char* file, int line);
inline void check_vector_alignment(const void* address, std::size_t alignment, const char* type, bool store,
                                   const char* file, int line) {
  if ((reinterpret_cast<std::uintptr_t>(address) & (alignment - 1)) != 0) {
    misaligned_vector_access(type, alignment, address, store, file, line);
  }
}
}  // namespace elbo4j_emu

// ---- built-in vector types (same layout and alignment as CUDA's vector_types.h) ----
// Types without an alignment of their own (uint3, dim3, float3, int3) are plain aggregates. The
// others check, in every copy, that the object copied from (a load) and the object assigned to (a
// store) sit at a multiple of their alignment, as the GPU's vector loads and stores require: in
// kernel code `*reinterpret_cast<const float4*>(p)` at a p off 16 bytes is a reported fault, not a
// CPU crash (g++ emits aligned SSE moves) or, for uchar4, silently working code. The copy
// constructor's defaulted arguments capture the caller's file and line.
#define ELBO4J_EMU_VECTOR_COPIES(NAME, COPY_MEMBERS)                                                       \
  using elbo4j_emu_checked_vector = NAME;                                                                  \
  NAME() = default;                                                                                        \
  NAME(const NAME& other, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {              \
    ::elbo4j_emu::check_vector_alignment(&other, alignof(NAME), #NAME, false, file, line);                  \
    COPY_MEMBERS                                                                                           \
  }                                                                                                        \
  NAME& operator=(const NAME& other) {                                                                     \
    ::elbo4j_emu::check_vector_alignment(&other, alignof(NAME), #NAME, false, nullptr, 0);                  \
    ::elbo4j_emu::check_vector_alignment(this, alignof(NAME), #NAME, true, nullptr, 0);                     \
    COPY_MEMBERS                                                                                           \
    return *this;                                                                                          \
  }
#define ELBO4J_EMU_VECTOR2(NAME, T, ALIGN)                                                                 \
  struct alignas(ALIGN) NAME {                                                                             \
    T x, y;                                                                                                \
    constexpr NAME(T vx, T vy) : x(vx), y(vy) {}                                                           \
    ELBO4J_EMU_VECTOR_COPIES(NAME, x = other.x; y = other.y;)                                              \
  };
#define ELBO4J_EMU_VECTOR4(NAME, T, ALIGN)                                                                 \
  struct alignas(ALIGN) NAME {                                                                             \
    T x, y, z, w;                                                                                          \
    constexpr NAME(T vx, T vy, T vz, T vw) : x(vx), y(vy), z(vz), w(vw) {}                                 \
    ELBO4J_EMU_VECTOR_COPIES(NAME, x = other.x; y = other.y; z = other.z; w = other.w;)                    \
  };

struct uint3 { unsigned int x, y, z; };
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
};
struct float3 { float x, y, z; };
struct int3 { int x, y, z; };
ELBO4J_EMU_VECTOR2(float2, float, 8)
ELBO4J_EMU_VECTOR4(float4, float, 16)
ELBO4J_EMU_VECTOR2(int2, int, 8)
ELBO4J_EMU_VECTOR4(int4, int, 16)
ELBO4J_EMU_VECTOR2(uint2, unsigned int, 8)
ELBO4J_EMU_VECTOR4(uint4, unsigned int, 16)
ELBO4J_EMU_VECTOR4(uchar4, unsigned char, 4)
ELBO4J_EMU_VECTOR2(double2, double, 16)
#undef ELBO4J_EMU_VECTOR2
#undef ELBO4J_EMU_VECTOR4
#undef ELBO4J_EMU_VECTOR_COPIES

inline float2 make_float2(float x, float y) { return {x, y}; }
inline float3 make_float3(float x, float y, float z) { return {x, y, z}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int3 make_int3(int x, int y, int z) { return {x, y, z}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned int x, unsigned int y) { return {x, y}; }
inline uint3 make_uint3(unsigned int x, unsigned int y, unsigned int z) { return {x, y, z}; }
inline uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w) { return {x, y, z, w}; }
inline uchar4 make_uchar4(unsigned char x, unsigned char y, unsigned char z, unsigned char w) { return {x, y, z, w}; }
inline double2 make_double2(double x, double y) { return {x, y}; }

namespace elbo4j_emu {

// ---- what the running fiber sees (set by the block scheduler, grid_runner.cpp) ----
struct ThreadCoords { uint3 thread_idx; };
struct BlockCoords { uint3 block_idx; dim3 block_dim; dim3 grid_dim; };
// Per OS thread. (Not the initial-exec TLS model: a dlopen'ed library that uses it must fit all of
// its TLS, the __shared__ arrays included, into the small static TLS reserve.)
extern __thread const ThreadCoords* current_thread;
extern __thread const BlockCoords* current_block;

enum class WarpOp : unsigned char { ShflIdx, ShflUp, ShflDown, ShflXor, Ballot, Any, All, SyncWarp, ActiveMask };

// Block barrier; file/line name the call site in deadlock reports and catch divergent barriers.
void sync_threads(const char* file, int line);
// __trap(): the block stops and the launch fails (CUDA_ERROR_LAUNCH_FAILED, as on the GPU).
[[noreturn]] void trap(const char* file, int line);
// Warp exchange point: returns this lane's result (raw bits of `value_bytes` bytes, or the vote).
std::uint64_t warp_exchange(const char* file, int line, WarpOp op, unsigned value_bytes, unsigned mask,
                            std::uint64_t value, int arg, int width);

template <typename T>
inline T shuffle(const char* file, int line, WarpOp op, unsigned mask, T var, int arg, int width) {
  static_assert(std::is_arithmetic<T>::value && (sizeof(T) == 4 || sizeof(T) == 8),
                "the emulator shuffles 4- and 8-byte arithmetic values (int, unsigned, float, double, ...)");
  std::uint64_t bits = 0;
  std::memcpy(&bits, &var, sizeof(T));
  const std::uint64_t out = warp_exchange(file, line, op, sizeof(T), mask, bits, arg, width);
  T result;
  std::memcpy(&result, &out, sizeof(T));
  return result;
}
template <typename T>
inline T shfl(const char* f, int l, unsigned mask, T var, int src_lane, int width = 32) {
  return shuffle(f, l, WarpOp::ShflIdx, mask, var, src_lane, width);
}
template <typename T>
inline T shfl_up(const char* f, int l, unsigned mask, T var, unsigned int delta, int width = 32) {
  return shuffle(f, l, WarpOp::ShflUp, mask, var, static_cast<int>(delta), width);
}
template <typename T>
inline T shfl_down(const char* f, int l, unsigned mask, T var, unsigned int delta, int width = 32) {
  return shuffle(f, l, WarpOp::ShflDown, mask, var, static_cast<int>(delta), width);
}
template <typename T>
inline T shfl_xor(const char* f, int l, unsigned mask, T var, int lane_mask, int width = 32) {
  return shuffle(f, l, WarpOp::ShflXor, mask, var, lane_mask, width);
}
inline unsigned vote(const char* f, int l, WarpOp op, unsigned mask, int predicate) {
  return static_cast<unsigned>(warp_exchange(f, l, op, 4, mask, predicate != 0, 0, 32));
}
inline void syncwarp(const char* f, int l, unsigned mask = 0xffffffffu) {
  warp_exchange(f, l, WarpOp::SyncWarp, 4, mask, 0, 0, 32);
}

// sin(pi x) and cos(pi x) with exact zeros/ones at integers and halves, as CUDA's sinpi/cospi.
inline double sinpi_reduced(double y) {  // y in [0, 2)
  const double pi = 3.14159265358979323846;
  if (y <= 0.25) return std::sin(pi * y);
  if (y <= 0.75) return std::cos(pi * (y - 0.5));
  if (y <= 1.25) return std::sin(pi * (1.0 - y));
  if (y <= 1.75) return -std::cos(pi * (y - 1.5));
  return std::sin(pi * (y - 2.0));
}
inline double sinpi(double x) {
  if (!std::isfinite(x)) return x - x;  // NaN for +-inf and NaN
  const double s = sinpi_reduced(std::fmod(std::fabs(x), 2.0));
  return x < 0 ? -s : s;
}
inline double cospi(double x) {
  if (!std::isfinite(x)) return x - x;
  return sinpi_reduced(std::fmod(std::fabs(x) + 0.5, 2.0));
}

// ---- kernel registration: the build appends ELBO4J_EMU_REGISTER_KERNEL(name, max_threads) ----
struct KernelParam { std::size_t offset, size; };
struct KernelEntry {
  const char* name;
  const char* source;           // the .cu file, for messages
  void (*kernel)();             // the kernel function, type-erased
  void (*invoke)(void (*kernel)(), const unsigned char* params);  // unpacks the parameter buffer and calls it
  const KernelParam* params;    // CUDA parameter-buffer layout: each parameter at its natural alignment
  std::size_t param_count;
  std::size_t param_bytes;
  int max_threads_per_block;    // __launch_bounds__ first argument, else 1024
};
void register_kernel(const KernelEntry* entry);

template <typename... Args>
constexpr std::array<KernelParam, sizeof...(Args)> param_layout() {
  std::array<KernelParam, sizeof...(Args)> layout{};
  std::size_t offset = 0, i = 0;
  ((offset = (offset + alignof(Args) - 1) / alignof(Args) * alignof(Args),
    layout[i++] = KernelParam{offset, sizeof(Args)}, offset += sizeof(Args)), ...);
  (void)i;
  return layout;
}
template <typename... Args>
constexpr std::size_t param_bytes() {
  constexpr auto layout = param_layout<Args...>();
  return layout.empty() ? 0 : layout.back().offset + layout.back().size;
}
// The vector types: plain data whose copies check alignment (see above).
template <typename T, typename = void>
struct is_checked_vector : std::false_type {};
template <typename T>
struct is_checked_vector<T, std::void_t<typename T::elbo4j_emu_checked_vector>> : std::true_type {};

template <typename T>
inline T load_param(const unsigned char* p) {
  static_assert(std::is_trivially_copyable<T>::value || is_checked_vector<T>::value,
                "kernel parameters must be trivially copyable");
  T value;
  std::memcpy(static_cast<void*>(&value), p, sizeof(T));
  return value;
}
template <typename... Args, std::size_t... I>
inline void invoke_with(void (*kernel)(Args...), const unsigned char* p, std::index_sequence<I...>) {
  static constexpr auto layout = param_layout<Args...>();
  (void)p;
  kernel(load_param<Args>(p + layout[I].offset)...);
}

template <typename... Args>
class KernelRegistrar {
 public:
  KernelRegistrar(const char* name, void (*kernel)(Args...), int max_threads, const char* source) {
    entry_.name = name;
    entry_.source = source;
    entry_.kernel = reinterpret_cast<void (*)()>(kernel);
    entry_.invoke = [](void (*erased)(), const unsigned char* params) {
      invoke_with(reinterpret_cast<void (*)(Args...)>(erased), params, std::index_sequence_for<Args...>{});
    };
    entry_.params = layout_.data();
    entry_.param_count = sizeof...(Args);
    entry_.param_bytes = param_bytes<Args...>();
    entry_.max_threads_per_block = max_threads;
    register_kernel(&entry_);
  }

 private:
  static constexpr std::array<KernelParam, sizeof...(Args)> layout_ = param_layout<Args...>();
  KernelEntry entry_{};
};
constexpr int first_launch_bound(int max_threads, int = 0, int = 0) { return max_threads; }

}  // namespace elbo4j_emu

#define ELBO4J_EMU_REGISTER_KERNEL(fn, max_threads) \
  static ::elbo4j_emu::KernelRegistrar elbo4j_emu_registrar_##fn(#fn, &fn, max_threads, __FILE__);

#endif  // ELBO4J_EMU_KERNEL_ABI_H
