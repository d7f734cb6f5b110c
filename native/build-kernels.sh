#!/usr/bin/env bash
# Compiles kernels/*.cu into one fatbin that the jar carries as a resource
# (dev/elbo4j/kernels/elbo4j.fatbin), and keeps ptxas's resource report and the PTX of every architecture
# (REPORT_DIR/ptx). nvcc 13 is needed (sm_110 is in the list), so the fatbin needs a CUDA 13 (R580+) driver.
#   usage: build-kernels.sh RESOURCE_DIR REPORT_DIR
# Without nvcc the build goes on without kernels; the GPU path then says
# "this jar was built without kernels". The build fails when a kernel spills registers, and when the PTX
# holds approximate or flush-to-zero arithmetic the kernels did not ask for (native/check-ptx.pl: a
# fast-math option or intrinsic, which the emulator and the reference would not reproduce).
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
# Up to date: nothing under kernels/ (nor this script or the PTX check) is newer than the fatbin.
if [ -f "$fatbin" ] && [ -z "$(find "$root/kernels" "$0" "$root/native/check-ptx.pl" -newer "$fatbin" -print -quit)" ]; then
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
# nvcc's intermediate files are kept for their PTX (one file per architecture), the rest deleted.
keep=$report_dir/nvcc-keep
rm -rf "$keep" "$report_dir/ptx"
mkdir -p "$keep" "$report_dir/ptx"
echo "[elbo4j] nvcc: $($nvcc --version | tail -1)"
"$nvcc" -fatbin -O3 -std=c++17 -lineinfo -Xptxas -v -I "$root/kernels" "${gencode[@]}" -keep -keep-dir "$keep" \
  -o "$fatbin" "$unity" 2> "$report" || { cat "$report"; rm -f "$fatbin"; exit 1; }
mv "$keep"/*.ptx "$report_dir/ptx/"
rm -rf "$keep"
echo "[elbo4j] kernels: $resource_dir/elbo4j.fatbin ($(stat -c %s "$fatbin") bytes); ptxas report: $report"
command -v perl >/dev/null || { echo "[elbo4j] ERROR: perl is needed to check the kernels' PTX"; rm -f "$fatbin"; exit 1; }
perl "$root/native/check-ptx.pl" "$report_dir"/ptx/*.ptx || { rm -f "$fatbin"; exit 1; }
# The kernels are written to keep everything in registers: a spill is a regression.
if grep -E "[1-9][0-9]* bytes spill (stores|loads)" "$report"; then
  echo "[elbo4j] ERROR: register spills in the ptxas report above ($report)"; rm -f "$fatbin"; exit 1
fi
