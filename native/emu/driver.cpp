// The CUDA driver API subset, on the CPU. Compiled against the toolkit's cuda.h, so every definition
// below is checked against the real declaration (cuda.h maps e.g. cuMemAlloc to cuMemAlloc_v2; the
// definitions use the exported _v2 names directly).
//
// Model: one device, one primary context. Device memory is host memory (CUdeviceptr = address), so
// AddressSanitizer sees kernels' out-of-bounds accesses; allocations are tracked so that copies and
// sets are checked against them. Streams execute their work synchronously when it is enqueued (a
// launch returns after the grid has run); events record the host clock. A fault of work on the
// "device" (a kernel's, or a replayed copy's) is sticky as on a GPU: the call that enqueued the work
// succeeds, every later call of the context returns the fault until the context is destroyed. Between
// cuStreamBeginCapture_v2 and cuStreamEndCapture, work enqueued on the capturing stream is recorded
// instead (launch parameters copied by value), and cuGraphLaunch replays the recording in order.
// Refused with an error code and one line on stderr: anything not emulated (dynamic shared memory,
// unknown kernels, unsupported attributes and flags, ...).
#include <elf.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "state.h"

#define RETURN_IF_ERROR(expr)                     \
  do {                                            \
    const CUresult result_ = (expr);              \
    if (result_ != CUDA_SUCCESS) return result_;  \
  } while (0)

namespace elbo4j_emu {
namespace {

CUctx_st primary_context;
thread_local CUcontext current_context = nullptr;

constexpr const char* kDeviceName = "elbo4j CPU emulator";
constexpr std::size_t kAllocationAlignment = 256;  // cuMemAlloc's guarantee

// ---- streams and capture ----

// Validates a stream handle. The NULL stream and CU_STREAM_LEGACY are the legacy default stream
// (*legacy = true, *stream = nullptr); CU_STREAM_PER_THREAD is a plain stream without capture.
CUresult resolve_stream(const char* api, CUstream handle, CUstream* stream, bool* legacy) {
  *stream = nullptr;
  *legacy = handle == nullptr || handle == CU_STREAM_LEGACY;
  if (*legacy || handle == CU_STREAM_PER_THREAD) return CUDA_SUCCESS;
  if (state().streams.count(handle) == 0) {
    report("%s: unknown or destroyed stream handle %p", api, static_cast<void*>(handle));
    return CUDA_ERROR_INVALID_HANDLE;
  }
  *stream = handle;
  return CUDA_SUCCESS;
}

// Work on the legacy stream waits for every blocking stream; while one of them captures, that would
// make the capture depend on uncaptured work: the driver refuses and invalidates the capture.
CUresult check_legacy_stream_use(const char* api) {
  bool conflict = false;
  for (CUstream s : state().streams) {
    if (s->capture_status == CU_STREAM_CAPTURE_STATUS_ACTIVE && (s->flags & CU_STREAM_NON_BLOCKING) == 0) {
      s->capture_status = CU_STREAM_CAPTURE_STATUS_INVALIDATED;
      conflict = true;
    }
  }
  if (!conflict) return CUDA_SUCCESS;
  report("%s uses the legacy default stream while a blocking stream captures; the capture is invalidated", api);
  return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
}

// Resolves the stream that a call enqueues work on or asks about: resolve_stream, then
// check_legacy_stream_use when it is the legacy default stream (*stream = nullptr).
CUresult resolve_stream_for_use(const char* api, CUstream handle, CUstream* stream) {
  bool legacy;
  RETURN_IF_ERROR(resolve_stream(api, handle, stream, &legacy));
  return legacy ? check_legacy_stream_use(api) : CUDA_SUCCESS;
}

// Calls that may synchronize implicitly (allocation, freeing, context synchronization) are not
// permitted while a capture in global mode (any thread) or thread-local mode (this thread) runs.
CUresult check_unsafe_call_during_capture(const char* api) {
  bool conflict = false;
  for (CUstream s : state().streams) {
    if (s->capture_status != CU_STREAM_CAPTURE_STATUS_ACTIVE) continue;
    if (s->capture_mode == CU_STREAM_CAPTURE_MODE_GLOBAL ||
        (s->capture_mode == CU_STREAM_CAPTURE_MODE_THREAD_LOCAL && s->capture_thread == std::this_thread::get_id())) {
      s->capture_status = CU_STREAM_CAPTURE_STATUS_INVALIDATED;
      conflict = true;
    }
  }
  if (!conflict) return CUDA_SUCCESS;
  report("%s is not permitted while a stream captures (global or thread-local mode); the capture is invalidated", api);
  return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

// ---- devices and tracked objects ----

// Checks for calls about a device: cuInit has run and `device` is the one emulated device (ordinal 0).
CUresult require_device(CUdevice device) {
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  return device == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

// Registers a new object in the context's set `live` (streams, events, ...) and hands it to the caller.
template <typename Handle>
CUresult hand_out(std::unordered_set<Handle>& live, Handle object, Handle* out) {
  live.insert(object);
  *out = object;
  return CUDA_SUCCESS;
}

// Destroys an object of the context's set `live`; a handle not in it (never created, or destroyed) is
// refused.
template <typename Handle>
CUresult destroy_tracked(std::unordered_set<Handle>& live, Handle object) {
  if (live.erase(object) == 0) return CUDA_ERROR_INVALID_HANDLE;
  delete object;
  return CUDA_SUCCESS;
}

// ---- memory ----

CUresult check_device_range(const char* api, const char* role, const void* address, std::size_t bytes) {
  if (in_device_memory(address, bytes)) return CUDA_SUCCESS;
  report("%s: %s [%p, +%zu bytes) is not inside one device allocation", api, role, address, bytes);
  return CUDA_ERROR_INVALID_VALUE;
}

void free_everything_in_context() {
  DriverState& s = state();
  for (auto& block : s.device_blocks) std::free(reinterpret_cast<void*>(block.first));
  s.device_blocks.clear();
  s.device_used = 0;
  for (auto& block : s.host_blocks) std::free(block.first);
  s.host_blocks.clear();
  for (CUstream stream : s.streams) delete stream;
  s.streams.clear();
  for (CUevent event : s.events) delete event;
  s.events.clear();
  for (CUmodule module : s.modules) delete module;
  s.modules.clear();
  s.functions.clear();
  for (CUgraph graph : s.graphs) delete graph;
  s.graphs.clear();
  for (CUgraphExec exec : s.graph_execs) delete exec;
  s.graph_execs.clear();
  s.sticky_error = CUDA_SUCCESS;
}

// ---- executing work ----

// Runs one piece of work. Returns CUDA_SUCCESS, or the fault it caused on the device (after printing
// why): a kernel's fault (CUDA_ERROR_LAUNCH_FAILED, CUDA_ERROR_MISALIGNED_ADDRESS), or work replayed
// by a graph that touches memory freed since the capture (CUDA_ERROR_ILLEGAL_ADDRESS).
CUresult run_on_device(const char* api, const WorkItem& item) {
  if (const auto* k = std::get_if<KernelNode>(&item)) {
    LaunchFault fault;
    if (run_grid(GridLaunch{k->kernel, k->params.data(), k->grid, k->block}, &fault)) return CUDA_SUCCESS;
    report("%s(%s): %s", api, k->kernel->name, fault.message.c_str());
    return fault.kind == FaultKind::MisalignedAddress ? CUDA_ERROR_MISALIGNED_ADDRESS : CUDA_ERROR_LAUNCH_FAILED;
  }
  if (const auto* c = std::get_if<CopyNode>(&item)) {
    // Checked when enqueued; checked again because a graph may replay after a free.
    const bool dst_ok = c->kind == CopyKind::DeviceToHost || in_device_memory(c->dst, c->bytes);
    const bool src_ok = c->kind == CopyKind::HostToDevice || in_device_memory(c->src, c->bytes);
    if (!dst_ok || !src_ok) {
      report("%s: copy of %zu bytes from %p to %p touches memory that is no longer allocated", api, c->bytes,
             c->src, c->dst);
      return CUDA_ERROR_ILLEGAL_ADDRESS;
    }
    std::memmove(c->dst, c->src, c->bytes);
    return CUDA_SUCCESS;
  }
  if (const auto* s = std::get_if<SetNode>(&item)) {
    if (!in_device_memory(s->dst, s->count * s->element_bytes)) {
      report("%s: set of %zu elements at %p touches memory that is no longer allocated", api, s->count, s->dst);
      return CUDA_ERROR_ILLEGAL_ADDRESS;
    }
    if (s->element_bytes == 1) {
      std::memset(s->dst, static_cast<int>(s->value & 0xffu), s->count);
    } else {
      auto* words = static_cast<std::uint32_t*>(s->dst);
      std::fill(words, words + s->count, s->value);
    }
    return CUDA_SUCCESS;
  }
  const auto& g = std::get<GemmNode>(item);
  std::string error;
  if (run_gemm(g.call, &error)) return CUDA_SUCCESS;
  report("%s: %s", g.api, error.c_str());
  return CUDA_ERROR_ILLEGAL_ADDRESS;
}

// Runs work as a GPU's stream would. A fault does not fail the call that enqueued the work: it becomes
// the context's sticky error, which every later call of the context returns (require_context) until
// the context is destroyed; as on a GPU, work behind the faulting work does not run. False after a fault.
bool execute(const char* api, const WorkItem& item) {
  const CUresult fault = run_on_device(api, item);
  if (fault == CUDA_SUCCESS) return true;
  const char* name = nullptr;
  cuGetErrorName(fault, &name);
  report("%s is the context's error from now on: every later call returns it until the context is destroyed "
         "(the last cuDevicePrimaryCtxRelease_v2)", name);
  state().sticky_error = fault;
  return false;
}

// ---- module images ----

bool is_identifier_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
}

// `name` occurs as a whole symbol: not inside a longer identifier (ELF string tables hold ".text.NAME",
// "NAME\0"; a kernel "k" must not match "k_backward").
bool names_symbol(const std::string& image, const std::string& name) {
  for (std::size_t pos = image.find(name); pos != std::string::npos; pos = image.find(name, pos + 1)) {
    const std::size_t end = pos + name.size();
    const bool starts = pos == 0 || !is_identifier_char(static_cast<unsigned char>(image[pos - 1]));
    const bool ends = end == image.size() || !is_identifier_char(static_cast<unsigned char>(image[end]));
    if (starts && ends) return true;
  }
  return false;
}

// The names declared by `.entry NAME` in PTX text.
std::unordered_set<std::string> ptx_entries(const std::string& ptx) {
  std::unordered_set<std::string> names;
  for (std::size_t pos = ptx.find(".entry"); pos != std::string::npos; pos = ptx.find(".entry", pos + 1)) {
    std::size_t i = pos + 6;
    if (i >= ptx.size() || (ptx[i] != ' ' && ptx[i] != '\t' && ptx[i] != '\n' && ptx[i] != '\r')) continue;
    while (i < ptx.size() && (ptx[i] == ' ' || ptx[i] == '\t' || ptx[i] == '\n' || ptx[i] == '\r')) ++i;
    const std::size_t start = i;
    while (i < ptx.size() && is_identifier_char(static_cast<unsigned char>(ptx[i]))) ++i;
    if (i > start) names.insert(ptx.substr(start, i - start));
  }
  return names;
}

// Compares byte by byte and stops at the first difference, so a short NUL-terminated text is never
// read past its end.
bool starts_with(const unsigned char* bytes, const unsigned char* magic, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (bytes[i] != magic[i]) return false;
  }
  return true;
}

template <typename T>
T read_at(const unsigned char* bytes, std::size_t offset) {
  T value;
  std::memcpy(&value, bytes + offset, sizeof value);
  return value;
}

constexpr std::size_t kMaxImageBytes = std::size_t{1} << 31;

// Copies the image (whose length cuModuleLoadData does not pass: it follows from the format) and
// finds the compiled-in kernels it names. On failure returns the error and a message.
CUresult load_image(const void* image, CUmod_st* module, std::string* message) {
  const auto* bytes = static_cast<const unsigned char*>(image);
  static const unsigned char kFatbinMagic[] = {0x50, 0xed, 0x55, 0xba};
  static const unsigned char kElfMagic[] = {0x7f, 'E', 'L', 'F'};
  std::size_t size = 0;
  bool ptx = false;
  if (starts_with(bytes, kFatbinMagic, 4)) {
    // Fatbin header: u32 magic, u16 version, u16 header size, u64 size of the entries that follow.
    const auto header_size = read_at<std::uint16_t>(bytes, 6);
    const auto entries_size = read_at<std::uint64_t>(bytes, 8);
    if (header_size < 16 || entries_size > kMaxImageBytes) {
      *message = "fatbin header is malformed";
      return CUDA_ERROR_INVALID_IMAGE;
    }
    size = header_size + entries_size;
  } else if (starts_with(bytes, kElfMagic, 4)) {
    if (bytes[EI_CLASS] != ELFCLASS64) {
      *message = "cubin is not a 64-bit ELF file";
      return CUDA_ERROR_INVALID_IMAGE;
    }
    const auto header = read_at<Elf64_Ehdr>(bytes, 0);
    size = std::max<std::size_t>({sizeof(Elf64_Ehdr), header.e_shoff + std::size_t{header.e_shnum} * header.e_shentsize,
                                  header.e_phoff + std::size_t{header.e_phnum} * header.e_phentsize});
    if (size > kMaxImageBytes || (header.e_shnum > 0 && header.e_shentsize < sizeof(Elf64_Shdr))) {
      *message = "cubin ELF header is malformed";
      return CUDA_ERROR_INVALID_IMAGE;
    }
    for (unsigned i = 0; i < header.e_shnum; ++i) {
      const auto section = read_at<Elf64_Shdr>(bytes, header.e_shoff + std::size_t{i} * header.e_shentsize);
      if (section.sh_type != SHT_NOBITS) size = std::max<std::size_t>(size, section.sh_offset + section.sh_size);
    }
    if (size > kMaxImageBytes) {
      *message = "cubin ELF section table is malformed";
      return CUDA_ERROR_INVALID_IMAGE;
    }
  } else {
    // Text must end with a NUL, as cuModuleLoadData requires for PTX.
    for (; size < kMaxImageBytes && bytes[size] != 0; ++size) {
      const unsigned char c = bytes[size];
      if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') {
        *message = "image is neither a fatbin (magic 0xba55ed50), a cubin (ELF) nor NUL-terminated PTX text";
        return CUDA_ERROR_INVALID_IMAGE;
      }
    }
    ptx = true;
  }
  module->image.assign(reinterpret_cast<const char*>(bytes), size);
  if (ptx) {
    if (module->image.find(".version") == std::string::npos || module->image.find(".target") == std::string::npos) {
      *message = "text image is not PTX (no .version and .target directives)";
      return CUDA_ERROR_INVALID_PTX;
    }
    const std::unordered_set<std::string> entries = ptx_entries(module->image);
    for (std::size_t i = 0; i < kernel_count(); ++i) {
      if (entries.count(kernel_at(i)->name) != 0) module->exposed.insert(kernel_at(i)->name);
    }
  } else {
    for (std::size_t i = 0; i < kernel_count(); ++i) {
      if (names_symbol(module->image, kernel_at(i)->name)) module->exposed.insert(kernel_at(i)->name);
    }
  }
  return CUDA_SUCCESS;
}

void write_log(char* buffer, std::size_t capacity, void** size_slot, const std::string& text) {
  if (buffer == nullptr || capacity == 0) return;
  const std::size_t n = std::min(text.size(), capacity - 1);
  std::memcpy(buffer, text.data(), n);
  buffer[n] = '\0';
  if (size_slot != nullptr) *size_slot = reinterpret_cast<void*>(static_cast<std::uintptr_t>(n + 1));
}

}  // namespace

DriverState& state() {
  static DriverState* instance = new DriverState();  // never destroyed: the JVM may call during exit
  return *instance;
}

std::unique_lock<std::mutex> lock_api() {
  static std::mutex* api_mutex = new std::mutex();
  return std::unique_lock<std::mutex>(*api_mutex);
}

void report(const char* format, ...) {
  char line[2048];
  va_list args;
  va_start(args, format);
  std::vsnprintf(line, sizeof line, format, args);
  va_end(args);
  std::fprintf(stderr, "elbo4j-cudaemu: %s\n", line);
  std::fflush(stderr);
}

CUresult require_context() {
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (current_context == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  if (!state().context_active) return CUDA_ERROR_CONTEXT_IS_DESTROYED;
  return state().sticky_error;
}

bool in_device_memory(const void* address, std::size_t bytes) {
  const auto& blocks = state().device_blocks;
  const auto a = reinterpret_cast<std::uintptr_t>(address);
  auto it = blocks.upper_bound(a);
  if (it == blocks.begin()) return false;
  --it;
  const std::uintptr_t offset = a - it->first;
  return offset <= it->second && bytes <= it->second - offset;
}

CUresult submit(const char* api, CUstream handle, WorkItem item) {
  RETURN_IF_ERROR(require_context());  // cuBLAS calls come here without checking it first
  CUstream stream;
  RETURN_IF_ERROR(resolve_stream_for_use(api, handle, &stream));
  if (stream != nullptr && stream->capture_status == CU_STREAM_CAPTURE_STATUS_ACTIVE) {
    stream->captured.push_back(std::move(item));
    return CUDA_SUCCESS;
  }
  if (stream != nullptr && stream->capture_status == CU_STREAM_CAPTURE_STATUS_INVALIDATED) {
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  }
  execute(api, item);
  return CUDA_SUCCESS;
}

}  // namespace elbo4j_emu

using namespace elbo4j_emu;

// ======================================================================================
// Initialization, device, context
// ======================================================================================

CUresult CUDAAPI cuInit(unsigned int Flags) {
  auto lock = lock_api();
  if (Flags != 0) return CUDA_ERROR_INVALID_VALUE;
  DriverState& s = state();
  if (!s.initialized) {
    Schedule schedule;
    std::string error;
    if (!parse_schedule(std::getenv("ELBO4J_EMU_SCHEDULE"), &schedule, &error)) {
      report("cuInit: ELBO4J_EMU_SCHEDULE: %s", error.c_str());
      return CUDA_ERROR_INVALID_VALUE;
    }
    set_schedule(schedule);
    if (schedule.kind != Schedule::Kind::Fifo) {
      report("fiber schedule %s (ELBO4J_EMU_SCHEDULE=%s repeats it)", schedule_name(schedule).c_str(),
             schedule_name(schedule).c_str());
    }
    // Device memory is host memory: advertise half of the machine's RAM.
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    s.device_capacity = pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * page / 2 : std::size_t{1} << 32;
    s.initialized = true;
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDriverGetVersion(int* driverVersion) {
  if (driverVersion == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *driverVersion = CUDA_VERSION;  // the cuda.h this library was compiled against
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetCount(int* count) {
  auto lock = lock_api();
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *count = 1;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice* device, int ordinal) {
  auto lock = lock_api();
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
  *device = 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetName(char* name, int len, CUdevice dev) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_device(dev));
  if (name == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  std::snprintf(name, static_cast<std::size_t>(len), "%s", kDeviceName);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_device(dev));
  if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *bytes = state().device_capacity;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetAttribute(int* pi, CUdevice_attribute attrib, CUdevice dev) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_device(dev));
  if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // The limits the emulator enforces, and compute capability 9.0 (the kernels' reference target).
  switch (attrib) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: *pi = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: *pi = 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: *pi = 64; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: *pi = INT_MAX; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: *pi = 65535; break;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: *pi = 65535; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *pi = 48 * 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *pi = 48 * 1024; break;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: *pi = 228 * 1024; break;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: *pi = 64 * 1024; break;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *pi = 32; break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: *pi = 65536; break;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: *pi = 65536; break;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *pi = static_cast<int>(worker_count()); break;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: *pi = 2048; break;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: *pi = 32; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *pi = 9; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: *pi = 1; break;
    case CU_DEVICE_ATTRIBUTE_INTEGRATED: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: *pi = 0; break;  // streams run their work synchronously
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE: *pi = CU_COMPUTEMODE_DEFAULT; break;
    case CU_DEVICE_ATTRIBUTE_ECC_ENABLED: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_TCC_DRIVER: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: *pi = 0; break;
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: *pi = 0; break;
    default:
      report("cuDeviceGetAttribute: attribute %d is not emulated", static_cast<int>(attrib));
      return CUDA_ERROR_NOT_SUPPORTED;
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_device(dev));
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  ++state().primary_retains;
  state().context_active = true;
  *pctx = &primary_context;
  return CUDA_SUCCESS;
}

// The last release destroys the context: its memory, streams, events, modules and graphs.
CUresult CUDAAPI cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_device(dev));
  if (state().primary_retains == 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (--state().primary_retains == 0) {
    free_everything_in_context();
    state().context_active = false;
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx) {
  auto lock = lock_api();
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (ctx != nullptr && ctx != &primary_context) return CUDA_ERROR_INVALID_CONTEXT;
  current_context = ctx;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetCurrent(CUcontext* pctx) {
  auto lock = lock_api();
  if (!state().initialized) return CUDA_ERROR_NOT_INITIALIZED;
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pctx = current_context;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSynchronize(void) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  return check_unsafe_call_during_capture("cuCtxSynchronize");
}

// ======================================================================================
// Memory
// ======================================================================================

CUresult CUDAAPI cuMemGetInfo_v2(size_t* free, size_t* total) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (free == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *total = state().device_capacity;
  *free = state().device_capacity - state().device_used;
  return CUDA_SUCCESS;
}

// Fresh device memory reads as NaN (every byte 0xff), so output a kernel forgets to write shows.
CUresult CUDAAPI cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (dptr == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
  RETURN_IF_ERROR(check_unsafe_call_during_capture("cuMemAlloc_v2"));
  DriverState& s = state();
  if (bytesize > s.device_capacity - s.device_used) {
    report("cuMemAlloc_v2: %zu bytes requested, %zu of %zu bytes free (the emulated device has half the host's RAM)",
           bytesize, s.device_capacity - s.device_used, s.device_capacity);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  void* block = nullptr;
  if (posix_memalign(&block, kAllocationAlignment, bytesize) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
  std::memset(block, 0xff, bytesize);
  s.device_blocks.emplace(reinterpret_cast<std::uintptr_t>(block), bytesize);
  s.device_used += bytesize;
  *dptr = reinterpret_cast<CUdeviceptr>(block);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFree_v2(CUdeviceptr dptr) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  RETURN_IF_ERROR(check_unsafe_call_during_capture("cuMemFree_v2"));
  DriverState& s = state();
  auto it = s.device_blocks.find(static_cast<std::uintptr_t>(dptr));
  if (it == s.device_blocks.end()) {
    report("cuMemFree_v2: 0x%llx is not the start of a live device allocation", dptr);
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::free(reinterpret_cast<void*>(it->first));
  s.device_used -= it->second;
  s.device_blocks.erase(it);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAllocHost_v2(void** pp, size_t bytesize) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (pp == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
  RETURN_IF_ERROR(check_unsafe_call_during_capture("cuMemAllocHost_v2"));
  void* block = nullptr;
  if (posix_memalign(&block, kAllocationAlignment, bytesize) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
  state().host_blocks.emplace(block, bytesize);
  *pp = block;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFreeHost(void* p) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  RETURN_IF_ERROR(check_unsafe_call_during_capture("cuMemFreeHost"));
  auto it = state().host_blocks.find(p);
  if (it == state().host_blocks.end()) {
    report("cuMemFreeHost: %p was not allocated by cuMemAllocHost", p);
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::free(p);
  state().host_blocks.erase(it);
  return CUDA_SUCCESS;
}

namespace {

CUresult copy(const char* api, CopyKind kind, void* dst, const void* src, std::size_t bytes, CUstream stream) {
  RETURN_IF_ERROR(require_context());
  if (bytes == 0) return CUDA_SUCCESS;
  if (dst == nullptr || src == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (kind != CopyKind::DeviceToHost) RETURN_IF_ERROR(check_device_range(api, "destination", dst, bytes));
  if (kind != CopyKind::HostToDevice) RETURN_IF_ERROR(check_device_range(api, "source", src, bytes));
  return submit(api, stream, CopyNode{kind, dst, src, bytes});
}

CUresult set(const char* api, CUdeviceptr dst, std::uint32_t value, unsigned element_bytes, std::size_t count,
             CUstream stream) {
  RETURN_IF_ERROR(require_context());
  if (count == 0) return CUDA_SUCCESS;
  void* address = reinterpret_cast<void*>(dst);
  if (dst % element_bytes != 0) {
    report("%s: destination %p is not aligned to %u bytes", api, address, element_bytes);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (count > SIZE_MAX / element_bytes) return CUDA_ERROR_INVALID_VALUE;
  RETURN_IF_ERROR(check_device_range(api, "destination", address, count * element_bytes));
  return submit(api, stream, SetNode{address, value, element_bytes, count});
}

void* device_address(CUdeviceptr p) { return reinterpret_cast<void*>(p); }

}  // namespace

CUresult CUDAAPI cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount) {
  auto lock = lock_api();
  return copy("cuMemcpyHtoD_v2", CopyKind::HostToDevice, device_address(dstDevice), srcHost, ByteCount, nullptr);
}

CUresult CUDAAPI cuMemcpyDtoH_v2(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
  auto lock = lock_api();
  return copy("cuMemcpyDtoH_v2", CopyKind::DeviceToHost, dstHost, device_address(srcDevice), ByteCount, nullptr);
}

CUresult CUDAAPI cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) {
  auto lock = lock_api();
  return copy("cuMemcpyDtoD_v2", CopyKind::DeviceToDevice, device_address(dstDevice), device_address(srcDevice),
              ByteCount, nullptr);
}

CUresult CUDAAPI cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount, CUstream hStream) {
  auto lock = lock_api();
  return copy("cuMemcpyHtoDAsync_v2", CopyKind::HostToDevice, device_address(dstDevice), srcHost, ByteCount, hStream);
}

CUresult CUDAAPI cuMemcpyDtoHAsync_v2(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) {
  auto lock = lock_api();
  return copy("cuMemcpyDtoHAsync_v2", CopyKind::DeviceToHost, dstHost, device_address(srcDevice), ByteCount, hStream);
}

CUresult CUDAAPI cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount,
                                      CUstream hStream) {
  auto lock = lock_api();
  return copy("cuMemcpyDtoDAsync_v2", CopyKind::DeviceToDevice, device_address(dstDevice), device_address(srcDevice),
              ByteCount, hStream);
}

CUresult CUDAAPI cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N) {
  auto lock = lock_api();
  return set("cuMemsetD8_v2", dstDevice, uc, 1, N, nullptr);
}

CUresult CUDAAPI cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N) {
  auto lock = lock_api();
  return set("cuMemsetD32_v2", dstDevice, ui, 4, N, nullptr);
}

CUresult CUDAAPI cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream) {
  auto lock = lock_api();
  return set("cuMemsetD8Async", dstDevice, uc, 1, N, hStream);
}

CUresult CUDAAPI cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream) {
  auto lock = lock_api();
  return set("cuMemsetD32Async", dstDevice, ui, 4, N, hStream);
}

// ======================================================================================
// Streams and events
// ======================================================================================

CUresult CUDAAPI cuStreamCreate(CUstream* phStream, unsigned int Flags) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (phStream == nullptr || (Flags != CU_STREAM_DEFAULT && Flags != CU_STREAM_NON_BLOCKING)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto* stream = new CUstream_st();
  stream->flags = Flags;
  return hand_out(state().streams, stream, phStream);
}

// Destroying a capturing stream discards its capture.
CUresult CUDAAPI cuStreamDestroy_v2(CUstream hStream) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  return destroy_tracked(state().streams, hStream);
}

CUresult CUDAAPI cuStreamSynchronize(CUstream hStream) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  CUstream stream;
  RETURN_IF_ERROR(resolve_stream_for_use("cuStreamSynchronize", hStream, &stream));
  if (stream != nullptr && stream->capture_status == CU_STREAM_CAPTURE_STATUS_ACTIVE) {
    stream->capture_status = CU_STREAM_CAPTURE_STATUS_INVALIDATED;
    report("cuStreamSynchronize: the stream is capturing; the capture is invalidated");
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  return CUDA_SUCCESS;  // its work ran when it was enqueued
}

CUresult CUDAAPI cuEventCreate(CUevent* phEvent, unsigned int Flags) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (phEvent == nullptr || (Flags & ~(CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS)) != 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if ((Flags & CU_EVENT_INTERPROCESS) != 0) {
    report("cuEventCreate: CU_EVENT_INTERPROCESS is not emulated");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  auto* event = new CUevent_st();
  event->flags = Flags;
  return hand_out(state().events, event, phEvent);
}

CUresult CUDAAPI cuEventDestroy_v2(CUevent hEvent) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  return destroy_tracked(state().events, hEvent);
}

// Records the host clock: the stream's earlier work has already run.
CUresult CUDAAPI cuEventRecord(CUevent hEvent, CUstream hStream) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (state().events.count(hEvent) == 0) return CUDA_ERROR_INVALID_HANDLE;
  CUstream stream;
  RETURN_IF_ERROR(resolve_stream_for_use("cuEventRecord", hStream, &stream));
  if (stream != nullptr && stream->capture_status != CU_STREAM_CAPTURE_STATUS_NONE) {
    stream->capture_status = CU_STREAM_CAPTURE_STATUS_INVALIDATED;
    report("cuEventRecord: recording an event into a stream capture is not emulated; the capture is invalidated");
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  hEvent->recorded = true;
  hEvent->time = std::chrono::steady_clock::now();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventSynchronize(CUevent hEvent) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  return state().events.count(hEvent) != 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult CUDAAPI cuEventElapsedTime_v2(float* pMilliseconds, CUevent hStart, CUevent hEnd) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (pMilliseconds == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (state().events.count(hStart) == 0 || state().events.count(hEnd) == 0) return CUDA_ERROR_INVALID_HANDLE;
  if (!hStart->recorded || !hEnd->recorded) return CUDA_ERROR_INVALID_HANDLE;
  if (((hStart->flags | hEnd->flags) & CU_EVENT_DISABLE_TIMING) != 0) return CUDA_ERROR_INVALID_HANDLE;
  *pMilliseconds = std::chrono::duration<float, std::milli>(hEnd->time - hStart->time).count();
  return CUDA_SUCCESS;
}

// ======================================================================================
// Modules and functions
// ======================================================================================

CUresult CUDAAPI cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int numOptions, CUjit_option* options,
                                    void** optionValues) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (module == nullptr || image == nullptr || (numOptions > 0 && (options == nullptr || optionValues == nullptr))) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  char* error_log = nullptr;
  std::size_t error_log_size = 0;
  void** error_log_size_slot = nullptr;
  char* info_log = nullptr;
  std::size_t info_log_size = 0;
  void** info_log_size_slot = nullptr;
  for (unsigned i = 0; i < numOptions; ++i) {
    switch (options[i]) {
      case CU_JIT_ERROR_LOG_BUFFER: error_log = static_cast<char*>(optionValues[i]); break;
      case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES:
        error_log_size = reinterpret_cast<std::uintptr_t>(optionValues[i]);
        error_log_size_slot = &optionValues[i];
        break;
      case CU_JIT_INFO_LOG_BUFFER: info_log = static_cast<char*>(optionValues[i]); break;
      case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES:
        info_log_size = reinterpret_cast<std::uintptr_t>(optionValues[i]);
        info_log_size_slot = &optionValues[i];
        break;
      case CU_JIT_WALL_TIME: {  // output: a float written over the option value
        const float no_time = 0.0f;
        std::memcpy(&optionValues[i], &no_time, sizeof no_time);
        break;
      }
      // Code generation choices for a JIT that does not run here: nothing to do.
      case CU_JIT_MAX_REGISTERS:
      case CU_JIT_THREADS_PER_BLOCK:
      case CU_JIT_OPTIMIZATION_LEVEL:
      case CU_JIT_TARGET_FROM_CUCONTEXT:
      case CU_JIT_TARGET:
      case CU_JIT_FALLBACK_STRATEGY:
      case CU_JIT_GENERATE_DEBUG_INFO:
      case CU_JIT_LOG_VERBOSE:
      case CU_JIT_GENERATE_LINE_INFO:
      case CU_JIT_CACHE_MODE:
      case CU_JIT_POSITION_INDEPENDENT_CODE:
      case CU_JIT_MIN_CTA_PER_SM:
      case CU_JIT_MAX_THREADS_PER_BLOCK:
      case CU_JIT_OVERRIDE_DIRECTIVE_VALUES:
        break;
      default:
        report("cuModuleLoadDataEx: JIT option %d is not emulated", static_cast<int>(options[i]));
        return CUDA_ERROR_NOT_SUPPORTED;
    }
  }
  auto loaded = std::make_unique<CUmod_st>();
  std::string message;
  const CUresult result = load_image(image, loaded.get(), &message);
  if (result != CUDA_SUCCESS) {
    report("cuModuleLoadData: %s", message.c_str());
    write_log(error_log, error_log_size, error_log_size_slot, "elbo4j CPU emulator: " + message);
    return result;
  }
  std::string info = "elbo4j CPU emulator: module exposes " + std::to_string(loaded->exposed.size()) +
                     " compiled-in kernel(s)";
  write_log(info_log, info_log_size, info_log_size_slot, info);
  write_log(error_log, error_log_size, error_log_size_slot, "");
  return hand_out(state().modules, loaded.release(), module);
}

CUresult CUDAAPI cuModuleLoadData(CUmodule* module, const void* image) {
  return cuModuleLoadDataEx(module, image, 0, nullptr, nullptr);
}

CUresult CUDAAPI cuModuleUnload(CUmodule hmod) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (state().modules.erase(hmod) == 0) return CUDA_ERROR_INVALID_HANDLE;
  for (auto& entry : hmod->functions) state().functions.erase(entry.second.get());
  delete hmod;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (hfunc == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (state().modules.count(hmod) == 0) return CUDA_ERROR_INVALID_HANDLE;
  auto cached = hmod->functions.find(name);
  if (cached != hmod->functions.end()) {
    *hfunc = cached->second.get();
    return CUDA_SUCCESS;
  }
  const KernelEntry* kernel = find_kernel(name);
  if (kernel == nullptr || hmod->exposed.count(name) == 0) {
    if (kernel == nullptr && names_symbol(hmod->image, name)) {
      report("cuModuleGetFunction: kernel %s is in the module image but not compiled into the emulator "
             "(rebuild it with native/build-emulator.sh)", name);
    } else if (kernel != nullptr) {
      report("cuModuleGetFunction: kernel %s is compiled into the emulator but not named by this module image", name);
    } else {
      report("cuModuleGetFunction: no kernel named %s in this module", name);
    }
    return CUDA_ERROR_NOT_FOUND;
  }
  auto function = std::make_unique<CUfunc_st>(CUfunc_st{hmod, kernel});
  *hfunc = function.get();
  state().functions.insert(function.get());
  hmod->functions.emplace(name, std::move(function));
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncGetAttribute(int* pi, CUfunction_attribute attrib, CUfunction hfunc) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (state().functions.count(hfunc) == 0) return CUDA_ERROR_INVALID_HANDLE;
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = hfunc->kernel->max_threads_per_block; break;
    // Compiled by the host compiler: no registers, local or constant memory to count, and the static
    // __shared__ size is not known here (the ptxas report of the GPU build has the real numbers).
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = 0; break;  // dynamic shared memory is refused
    case CU_FUNC_ATTRIBUTE_PTX_VERSION: *pi = 90; break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = 90; break;
    default:
      report("cuFuncGetAttribute: attribute %d is not emulated", static_cast<int>(attrib));
      return CUDA_ERROR_NOT_SUPPORTED;
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t* paramOffset, size_t* paramSize) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (state().functions.count(func) == 0) return CUDA_ERROR_INVALID_HANDLE;
  if (paramOffset == nullptr || paramIndex >= func->kernel->param_count) return CUDA_ERROR_INVALID_VALUE;
  *paramOffset = func->kernel->params[paramIndex].offset;
  if (paramSize != nullptr) *paramSize = func->kernel->params[paramIndex].size;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                                unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                                unsigned int sharedMemBytes, CUstream hStream, void** kernelParams, void** extra) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (state().functions.count(f) == 0) {
    report("cuLaunchKernel: unknown function handle %p (module unloaded?)", static_cast<void*>(f));
    return CUDA_ERROR_INVALID_HANDLE;
  }
  const KernelEntry* kernel = f->kernel;
  if (gridDimX == 0 || gridDimY == 0 || gridDimZ == 0 || blockDimX == 0 || blockDimY == 0 || blockDimZ == 0 ||
      gridDimX > static_cast<unsigned>(INT_MAX) || gridDimY > 65535 || gridDimZ > 65535) {
    report("cuLaunchKernel(%s): invalid grid (%u,%u,%u) or block (%u,%u,%u)", kernel->name, gridDimX, gridDimY,
           gridDimZ, blockDimX, blockDimY, blockDimZ);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const unsigned long long threads = 1ull * blockDimX * blockDimY * blockDimZ;
  if (blockDimX > 1024 || blockDimY > 1024 || blockDimZ > 64 || threads > kMaxThreadsPerBlock) {
    report("cuLaunchKernel(%s): block (%u,%u,%u) has %llu threads; at most 1024 per block (x, y <= 1024, z <= 64)",
           kernel->name, blockDimX, blockDimY, blockDimZ, threads);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (threads > static_cast<unsigned long long>(kernel->max_threads_per_block)) {
    report("cuLaunchKernel(%s): block of %llu threads exceeds the kernel's __launch_bounds__(%d)", kernel->name,
           threads, kernel->max_threads_per_block);
    return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
  }
  if (sharedMemBytes > 0) {
    report("cuLaunchKernel(%s): dynamic shared memory (sharedMemBytes = %u) is not emulated; use static __shared__ arrays",
           kernel->name, sharedMemBytes);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  std::vector<unsigned char> params(kernel->param_bytes);
  if (kernelParams != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (kernelParams != nullptr) {
    for (std::size_t i = 0; i < kernel->param_count; ++i) {
      if (kernelParams[i] == nullptr) {
        report("cuLaunchKernel(%s): kernelParams[%zu] is NULL", kernel->name, i);
        return CUDA_ERROR_INVALID_VALUE;
      }
      std::memcpy(params.data() + kernel->params[i].offset, kernelParams[i], kernel->params[i].size);
    }
  } else if (extra != nullptr) {
    const void* buffer = nullptr;
    const std::size_t* buffer_size = nullptr;
    for (std::size_t i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
      if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
        buffer = extra[i + 1];
      } else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) {
        buffer_size = static_cast<const std::size_t*>(extra[i + 1]);
      } else {
        report("cuLaunchKernel(%s): extra option %p is not emulated", kernel->name, extra[i]);
        return CUDA_ERROR_NOT_SUPPORTED;
      }
    }
    if (buffer == nullptr || buffer_size == nullptr || *buffer_size < kernel->param_bytes) {
      report("cuLaunchKernel(%s): the extra parameter buffer must hold %zu bytes", kernel->name, kernel->param_bytes);
      return CUDA_ERROR_INVALID_VALUE;
    }
    if (!params.empty()) std::memcpy(params.data(), buffer, params.size());
  } else if (kernel->param_count > 0) {
    report("cuLaunchKernel(%s): the kernel takes %zu parameters but kernelParams and extra are NULL", kernel->name,
           kernel->param_count);
    return CUDA_ERROR_INVALID_VALUE;
  }
  return submit("cuLaunchKernel", hStream,
                KernelNode{kernel, dim3(gridDimX, gridDimY, gridDimZ), dim3(blockDimX, blockDimY, blockDimZ),
                           std::move(params)});
}

// ======================================================================================
// Stream capture and graphs
// ======================================================================================

CUresult CUDAAPI cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (hStream == nullptr || hStream == CU_STREAM_LEGACY) {
    report("cuStreamBeginCapture_v2: the legacy NULL stream cannot be captured");
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  if (hStream == CU_STREAM_PER_THREAD) {
    report("cuStreamBeginCapture_v2: capturing the per-thread default stream is not emulated");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  if (state().streams.count(hStream) == 0) return CUDA_ERROR_INVALID_HANDLE;
  if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
      mode != CU_STREAM_CAPTURE_MODE_RELAXED) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (hStream->capture_status != CU_STREAM_CAPTURE_STATUS_NONE) return CUDA_ERROR_ILLEGAL_STATE;
  hStream->capture_status = CU_STREAM_CAPTURE_STATUS_ACTIVE;
  hStream->capture_mode = mode;
  hStream->capture_thread = std::this_thread::get_id();
  hStream->captured.clear();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamEndCapture(CUstream hStream, CUgraph* phGraph) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (phGraph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUstream stream;
  bool legacy;
  RETURN_IF_ERROR(resolve_stream("cuStreamEndCapture", hStream, &stream, &legacy));
  if (stream == nullptr || stream->capture_status == CU_STREAM_CAPTURE_STATUS_NONE) return CUDA_ERROR_ILLEGAL_STATE;
  if (stream->capture_mode != CU_STREAM_CAPTURE_MODE_RELAXED && stream->capture_thread != std::this_thread::get_id()) {
    return CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
  }
  const bool invalidated = stream->capture_status == CU_STREAM_CAPTURE_STATUS_INVALIDATED;
  stream->capture_status = CU_STREAM_CAPTURE_STATUS_NONE;
  if (invalidated) {
    stream->captured.clear();
    *phGraph = nullptr;
    return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  }
  auto* graph = new CUgraph_st();
  graph->items = std::move(stream->captured);
  stream->captured.clear();
  return hand_out(state().graphs, graph, phGraph);
}

CUresult CUDAAPI cuStreamIsCapturing(CUstream hStream, CUstreamCaptureStatus* captureStatus) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (captureStatus == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUstream stream;
  RETURN_IF_ERROR(resolve_stream_for_use("cuStreamIsCapturing", hStream, &stream));
  *captureStatus = stream != nullptr ? stream->capture_status : CU_STREAM_CAPTURE_STATUS_NONE;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphInstantiateWithFlags(CUgraphExec* phGraphExec, CUgraph hGraph, unsigned long long flags) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (phGraphExec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (state().graphs.count(hGraph) == 0) return CUDA_ERROR_INVALID_HANDLE;
  if (flags != 0) {
    report("cuGraphInstantiateWithFlags: flags 0x%llx are not emulated (only 0)", flags);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  auto* exec = new CUgraphExec_st();
  exec->items = hGraph->items;
  return hand_out(state().graph_execs, exec, phGraphExec);
}

// Replays the recorded work in order, on the calling thread, before returning.
CUresult CUDAAPI cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  if (state().graph_execs.count(hGraphExec) == 0) return CUDA_ERROR_INVALID_HANDLE;
  CUstream stream;
  RETURN_IF_ERROR(resolve_stream_for_use("cuGraphLaunch", hStream, &stream));
  if (stream != nullptr && stream->capture_status != CU_STREAM_CAPTURE_STATUS_NONE) {
    report("cuGraphLaunch: launching a graph into a stream capture is not emulated");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  for (const WorkItem& item : hGraphExec->items) {
    if (!execute("cuGraphLaunch", item)) break;
  }
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec hGraphExec) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  return destroy_tracked(state().graph_execs, hGraphExec);
}

CUresult CUDAAPI cuGraphDestroy(CUgraph hGraph) {
  auto lock = lock_api();
  RETURN_IF_ERROR(require_context());
  return destroy_tracked(state().graphs, hGraph);
}
