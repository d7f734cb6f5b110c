#!/usr/bin/env bash
# Compiles kernels/*.cu into one fatbin that the jar carries as a resource
# (dev/elbo4j/kernels/elbo4j.fatbin), and keeps ptxas's resource report.
#   usage: build-kernels.sh RESOURCE_DIR REPORT_DIR
# Without nvcc the build goes on without kernels; the GPU path then says
# "this jar was built without kernels". A kernel that spills registers fails the build.
set -euo pipefail
resource_dir=$1
report_dir=$2
root=$(cd "$(dirname "$0")/.." && pwd)
nvcc=${NVCC:-$(command -v nvcc || true)}
if [ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ]; then nvcc=/usr/local/cuda/bin/nvcc; fi
if [ -z "$nvcc" ]; then
  echo "[elbo4j] WARNING: nvcc not found: building the jar WITHOUT kernels (set NVCC or PATH to include nvcc)"
  rm -f "$resource_dir/elbo4j.fatbin"
  exit 0
fi
mkdir -p "$resource_dir" "$report_dir"
fatbin=$resource_dir/elbo4j.fatbin
# Up to date: nothing under kernels/ (nor this script) is newer than the fatbin.
if [ -f "$fatbin" ] && [ -z "$(find "$root/kernels" "$0" -newer "$fatbin" -print -quit)" ]; then
  echo "[elbo4j] kernels up to date: $fatbin"; exit 0
fi

# Every kernels/*.cu goes into one translation unit so that nvcc emits one fatbin.
unity=$report_dir/elbo4j_all.cu
: > "$unity"
for f in "$root"/kernels/*.cu; do echo "#include \"$f\"" >> "$unity"; done

# Machine code for the common architectures nvcc 13 builds, PTX for compute_90 so newer GPUs JIT.
# ELBO4J_ARCHS narrows the list for quick local builds (e.g. ELBO4J_ARCHS="90").
read -r -a archs <<< "${ELBO4J_ARCHS:-80 86 89 90 100 110 120}"
gencode=()
for a in "${archs[@]}"; do gencode+=(-gencode "arch=compute_$a,code=sm_$a"); done
gencode+=(-gencode "arch=compute_90,code=compute_90")

report=$report_dir/ptxas-report.txt
echo "[elbo4j] nvcc: $($nvcc --version | tail -1)"
"$nvcc" -fatbin -O3 -std=c++17 -lineinfo -Xptxas -v -I "$root/kernels" "${gencode[@]}" \
  -o "$fatbin" "$unity" 2> "$report" || { cat "$report"; exit 1; }
echo "[elbo4j] kernels: $resource_dir/elbo4j.fatbin ($(stat -c %s "$fatbin") bytes); ptxas report: $report"
# The kernels are written to keep everything in registers: a spill is a regression.
if grep -E "[1-9][0-9]* bytes spill (stores|loads)" "$report"; then
  echo "[elbo4j] ERROR: register spills in the ptxas report above ($report)"; exit 1
fi
