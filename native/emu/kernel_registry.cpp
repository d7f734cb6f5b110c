// The kernels compiled into this library: each kernels/*.cu object registers its kernels from a static
// constructor (ELBO4J_EMU_REGISTER_KERNEL, appended by build-emulator.sh), before any API call.
#include <cstdio>
#include <string>
#include <unordered_map>
#include <vector>

#include "grid_runner.h"

namespace elbo4j_emu {
namespace {

struct Registry {
  std::unordered_map<std::string, const KernelEntry*> by_name;
  std::vector<const KernelEntry*> in_order;
};

// Never destroyed: registrations run from other objects' static constructors, in any order.
Registry& registry() {
  static Registry* instance = new Registry();
  return *instance;
}

}  // namespace

void register_kernel(const KernelEntry* entry) {
  Registry& r = registry();
  if (!r.by_name.emplace(entry->name, entry).second) {
    std::fprintf(stderr, "elbo4j-cudaemu: kernel %s is defined twice (%s and %s); keeping the first\n",
                 entry->name, r.by_name[entry->name]->source, entry->source);
    return;
  }
  r.in_order.push_back(entry);
}

const KernelEntry* find_kernel(const std::string& name) {
  auto it = registry().by_name.find(name);
  return it == registry().by_name.end() ? nullptr : it->second;
}

std::size_t kernel_count() { return registry().in_order.size(); }

const KernelEntry* kernel_at(std::size_t index) { return registry().in_order[index]; }

}  // namespace elbo4j_emu
