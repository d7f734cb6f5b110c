# Builds the CPU emulator; run by native/build-emulator.sh, which first generates $(OUT)/gen/:
# one wrapper per kernel source (the .cu included, then its registrations) and the kernel lists.
#   make -f native/emu/emulator.mk ROOT=<repo> OUT=<dir> VARIANT=plain|asan CUDA_INCLUDE=<dir> [NVCC=<nvcc>]
# Products: $(OUT)/libelbo4j-cudaemu.so (driver + cuBLAS subset + kernels/*.cu + the test kernels of
# native/test/kernels, which a module exposes only when its image names them: Java tests plant faults
# with them) and $(OUT)/emu-test (the emulator's own tests, with the test kernels only).

# asan: AddressSanitizer, and UndefinedBehaviorSanitizer's alignment check without recovery (a
# misaligned access in a kernel stops the process with a report naming the source line).
ifeq ($(VARIANT),asan)
  OPT := -O1 -g -fsanitize=address,alignment -fno-sanitize-recover=alignment -fno-omit-frame-pointer
else
  OPT := -O2
endif
CXXFLAGS := -std=c++17 -fPIC -pthread -fvisibility=hidden -Wall -Wextra -MMD -MP $(OPT)
# Kernels: the device dialect comes in front of each source; kernels/*.cuh are found by -I. No errno
# from math functions (the GPU has none), so sqrtf and friends compile to instructions. No SLP
# vectorization: GCC 12.2's folds a vectorized pair of (double)(float)x back to x, dropping the rounding the
# kernel asks for (two such sums in a row, as in kernels/loss_totals.cu, came out unrounded). No contraction
# of a * b + c into an FMA (g++'s C++ default is -ffp-contract=fast, which fuses as soon as the target
# has FMA, e.g. with -march=native): each operation rounds on its own, whatever flags come before.
KERNEL_FLAGS := -fno-math-errno -fno-tree-slp-vectorize -Wno-unknown-pragmas -include $(ROOT)/native/emu/device_emu.h -I $(ROOT)/kernels -I $(ROOT)/native/emu
KERNEL_PINNED := -ffp-contract=off
# The kernels' __shared__ variables, gathered for poisoning (see the script).
SHARED_LD := $(ROOT)/native/emu/shared_memory.ld

CORE_OBJ := $(patsubst $(ROOT)/native/emu/%.cpp,$(OUT)/obj/emu/%.o,$(wildcard $(ROOT)/native/emu/*.cpp))
KERNEL_OBJ := $(patsubst $(OUT)/gen/kernels/%.cpp,$(OUT)/obj/kernels/%.o,$(wildcard $(OUT)/gen/kernels/*.cpp))
TEST_KERNEL_OBJ := $(patsubst $(OUT)/gen/test-kernels/%.cpp,$(OUT)/obj/test-kernels/%.o,\
                   $(wildcard $(OUT)/gen/test-kernels/*.cpp))
TEST_OBJ := $(OUT)/obj/test/emu_test.o
TEST_FATBIN := $(if $(NVCC),$(OUT)/test-kernels.fatbin)
PTX_CHECK_TESTED := $(if $(NVCC),$(OUT)/ptx-check-tested)

all: $(OUT)/libelbo4j-cudaemu.so $(OUT)/emu-test $(TEST_FATBIN) $(PTX_CHECK_TESTED)

$(OUT)/obj/emu/%.o: $(ROOT)/native/emu/%.cpp
	@mkdir -p $(@D)
	@echo "[elbo4j] emulator: compiling native/emu/$*.cpp"
	@$(CXX) $(CXXFLAGS) -I $(CUDA_INCLUDE) -c $< -o $@

$(OUT)/obj/kernels/%.o: $(OUT)/gen/kernels/%.cpp
	@mkdir -p $(@D)
	@echo "[elbo4j] emulator: compiling kernels/$*.cu"
	@$(CXX) $(CXXFLAGS) $(KERNEL_FLAGS) $(KERNEL_PINNED) -c $< -o $@

$(OUT)/obj/test-kernels/%.o: $(OUT)/gen/test-kernels/%.cpp
	@mkdir -p $(@D)
	@echo "[elbo4j] emulator: compiling native/test/kernels/$*.cu"
	@$(CXX) $(CXXFLAGS) $(KERNEL_FLAGS) $(KERNEL_PINNED) -c $< -o $@

$(TEST_OBJ): $(ROOT)/native/test/emu_test.cpp
	@mkdir -p $(@D)
	@echo "[elbo4j] emulator: compiling native/test/emu_test.cpp"
	@$(CXX) $(CXXFLAGS) -I $(CUDA_INCLUDE) -I $(ROOT)/native/emu -c $< -o $@

# The *.list files change when a kernel source is added or removed: the library is relinked then too.
$(OUT)/libelbo4j-cudaemu.so: $(CORE_OBJ) $(KERNEL_OBJ) $(TEST_KERNEL_OBJ) $(OUT)/gen/kernels.list \
                             $(OUT)/gen/test-kernels.list $(ROOT)/native/emu/exports.map $(SHARED_LD)
	@echo "[elbo4j] emulator: linking $@ ($(words $(KERNEL_OBJ)) kernel source(s))"
	@$(CXX) -shared $(OPT) -pthread -Wl,--version-script=$(ROOT)/native/emu/exports.map -Wl,--no-undefined-version \
	  -Wl,-z,defs -Wl,-T,$(SHARED_LD) -o $@ $(CORE_OBJ) $(KERNEL_OBJ) $(TEST_KERNEL_OBJ)

$(OUT)/emu-test: $(CORE_OBJ) $(TEST_KERNEL_OBJ) $(TEST_OBJ) $(OUT)/gen/test-kernels.list $(SHARED_LD)
	@echo "[elbo4j] emulator: linking $@"
	@$(CXX) $(OPT) -pthread -Wl,-T,$(SHARED_LD) -o $@ $(CORE_OBJ) $(TEST_KERNEL_OBJ) $(TEST_OBJ) -ldl

# The test kernels as nvcc compiles them, to check that real fatbins expose their kernels by name.
$(OUT)/test-kernels.fatbin: $(wildcard $(ROOT)/native/test/kernels/*.cu)
	@echo "[elbo4j] emulator: nvcc -fatbin of native/test/kernels (sm_90)"
	@cat $^ > $(OUT)/gen/test-kernels-all.cu
	@$(NVCC) -fatbin -gencode arch=compute_90,code=sm_90 -I $(ROOT)/kernels -o $@ $(OUT)/gen/test-kernels-all.cu

# The PTX check of native/build-kernels.sh, itself checked: it must pass a probe kernel as built and
# reject it built with each fast-math option or intrinsic.
$(OUT)/ptx-check-tested: $(ROOT)/native/check-ptx.pl $(ROOT)/native/test/ptx-probe.cu $(ROOT)/native/test/check-ptx-test.sh
	@echo "[elbo4j] emulator: testing native/check-ptx.pl on fast-math builds of native/test/ptx-probe.cu"
	@bash $(ROOT)/native/test/check-ptx-test.sh $(NVCC) $(OUT)/ptx-probe
	@touch $@

-include $(CORE_OBJ:.o=.d) $(KERNEL_OBJ:.o=.d) $(TEST_KERNEL_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

.PHONY: all
