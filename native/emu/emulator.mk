# Builds the CPU emulator; run by native/build-emulator.sh, which first generates $(OUT)/gen/:
# one wrapper per kernel source (the .cu included, then its registrations) and the kernel lists.
#   make -f native/emu/emulator.mk ROOT=<repo> OUT=<dir> VARIANT=plain|asan CUDA_INCLUDE=<dir> [NVCC=<nvcc>]
# Products: $(OUT)/libelbo4j-cudaemu.so (driver + cuBLAS subset + kernels/*.cu) and $(OUT)/emu-test
# (the emulator's own tests, with the test kernels of native/test/kernels instead of kernels/).

ifeq ($(VARIANT),asan)
  OPT := -O1 -g -fsanitize=address -fno-omit-frame-pointer
else
  OPT := -O2
endif
CXXFLAGS := -std=c++17 -fPIC -pthread -fvisibility=hidden -Wall -Wextra -MMD -MP $(OPT)
# Kernels: the device dialect comes in front of each source; kernels/*.cuh are found by -I. No errno
# from math functions (the GPU has none), so sqrtf and friends compile to instructions. No SLP
# vectorization: GCC 12.2's folds a vectorized pair of (double)(float)x back to x, dropping the rounding the
# kernel asks for (two such sums in a row, as in kernels/loss_totals.cu, came out unrounded).
KERNEL_FLAGS := -fno-math-errno -fno-tree-slp-vectorize -Wno-unknown-pragmas -include $(ROOT)/native/emu/device_emu.h -I $(ROOT)/kernels -I $(ROOT)/native/emu

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
	@$(CXX) $(CXXFLAGS) $(KERNEL_FLAGS) -c $< -o $@

$(OUT)/obj/test-kernels/%.o: $(OUT)/gen/test-kernels/%.cpp
	@mkdir -p $(@D)
	@echo "[elbo4j] emulator: compiling native/test/kernels/$*.cu"
	@$(CXX) $(CXXFLAGS) $(KERNEL_FLAGS) -c $< -o $@

$(TEST_OBJ): $(ROOT)/native/test/emu_test.cpp
	@mkdir -p $(@D)
	@echo "[elbo4j] emulator: compiling native/test/emu_test.cpp"
	@$(CXX) $(CXXFLAGS) -I $(CUDA_INCLUDE) -I $(ROOT)/native/emu -c $< -o $@

# kernels.list changes when a kernel source is added or removed: the library is relinked then too.
$(OUT)/libelbo4j-cudaemu.so: $(CORE_OBJ) $(KERNEL_OBJ) $(OUT)/gen/kernels.list $(ROOT)/native/emu/exports.map
	@echo "[elbo4j] emulator: linking $@ ($(words $(KERNEL_OBJ)) kernel source(s))"
	@$(CXX) -shared $(OPT) -pthread -Wl,--version-script=$(ROOT)/native/emu/exports.map -Wl,--no-undefined-version \
	  -Wl,-z,defs -o $@ $(CORE_OBJ) $(KERNEL_OBJ)

$(OUT)/emu-test: $(CORE_OBJ) $(TEST_KERNEL_OBJ) $(TEST_OBJ) $(OUT)/gen/test-kernels.list
	@echo "[elbo4j] emulator: linking $@"
	@$(CXX) $(OPT) -pthread -o $@ $(CORE_OBJ) $(TEST_KERNEL_OBJ) $(TEST_OBJ) -ldl

# The test kernels as nvcc compiles them, to check that real fatbins expose their kernels by name.
$(OUT)/test-kernels.fatbin: $(wildcard $(ROOT)/native/test/kernels/*.cu)
	@echo "[elbo4j] emulator: nvcc -fatbin of native/test/kernels (sm_90)"
	@cat $^ > $(OUT)/gen/test-kernels-all.cu
	@$(NVCC) -fatbin -gencode arch=compute_90,code=sm_90 -o $@ $(OUT)/gen/test-kernels-all.cu

# The PTX check of native/build-kernels.sh, itself checked: it must pass a probe kernel as built and
# reject it built with each fast-math option or intrinsic.
$(OUT)/ptx-check-tested: $(ROOT)/native/check-ptx.pl $(ROOT)/native/test/ptx-probe.cu $(ROOT)/native/test/check-ptx-test.sh
	@echo "[elbo4j] emulator: testing native/check-ptx.pl on fast-math builds of native/test/ptx-probe.cu"
	@bash $(ROOT)/native/test/check-ptx-test.sh $(NVCC) $(OUT)/ptx-probe
	@touch $@

-include $(CORE_OBJ:.o=.d) $(KERNEL_OBJ:.o=.d) $(TEST_KERNEL_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

.PHONY: all
