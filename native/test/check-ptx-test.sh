#!/usr/bin/env bash
# Checks native/check-ptx.pl itself: the PTX of native/test/ptx-probe.cu passes as the kernels are built
# (nvcc -O3, no fast-math option) and fails with each way fast math gets in. Run by native/emu/emulator.mk
# when nvcc is there.
#   usage: check-ptx-test.sh NVCC WORK_DIR
set -euo pipefail
nvcc=$1
work=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work"
probe=$root/native/test/ptx-probe.cu
check() {  # NAME EXPECTED(pass|fail) NVCC_OPTIONS...
  local name=$1 expected=$2; shift 2
  "$nvcc" -ptx -O3 -std=c++17 -arch=compute_90 "$@" -o "$work/$name.ptx" "$probe"
  if perl "$root/native/check-ptx.pl" "$work/$name.ptx" > "$work/$name.log" 2>&1; then got=pass; else got=fail; fi
  if [ "$got" != "$expected" ]; then
    echo "[elbo4j] ERROR: native/check-ptx.pl should $expected the probe built with '${*:-no option}', but it did not:"
    cat "$work/$name.log"
    exit 1
  fi
}
check as-built pass
check use-fast-math fail -use_fast_math
check ftz fail -ftz=true
check prec-div fail -prec-div=false
check prec-sqrt fail -prec-sqrt=false
check intrinsics fail -DELBO4J_PROBE_INTRINSICS
echo "[elbo4j] native/check-ptx.pl passes the probe as built and rejects -use_fast_math, -ftz=true," \
  "-prec-div=false, -prec-sqrt=false and __expf/__fdividef"
