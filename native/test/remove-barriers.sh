#!/usr/bin/env bash
# The planted-bug experiment for the fiber schedules: for every __syncthreads in kernels/, builds the
# emulator from a copy of the sources without that one barrier and runs the CUDA tests against it under
# each schedule given (default: fifo warps:1 warps:2), printing per barrier and schedule whether the
# tests caught the removal. Takes about 2 minutes per barrier on 2 cores; not part of CI (which runs the
# planted copies of native/test/kernels/planted.cu instead). Run from a built checkout (mvn verify
# first: it uses target/test-classes); writes to WORK_DIR (default /tmp/elbo4j-remove-barriers).
#   usage: native/test/remove-barriers.sh [SCHEDULE...]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${WORK_DIR:-/tmp/elbo4j-remove-barriers}
schedules=("$@")
[ ${#schedules[@]} -gt 0 ] || schedules=(fifo warps:1 warps:2)
rm -rf "$work/src"
mkdir -p "$work/src"
(cd "$root" && git ls-files -co --exclude-standard kernels native | tar -cf - -T -) | (cd "$work/src" && tar -xf -)
grep -rn "__syncthreads()" "$work/src/kernels" | while IFS=: read -r file line _; do
  cp "$file" "$file.orig"
  sed -i "${line}s/__syncthreads();/\/* barrier removed *\//" "$file"
  if ! NVCC= bash "$work/src/native/build-emulator.sh" "$work/out" plain > "$work/build.log" 2>&1; then
    echo "${file#"$work"/src/}:$line: the emulator does not build without it ($work/build.log)"
  else
    for schedule in "${schedules[@]}"; do
      (cd "$root" && mvn -B -ntp -o -Dgroups=cuda -Delbo4j.cuda.library="$work/out/libelbo4j-cudaemu.so" \
        -Delbo4j.emu.schedule="$schedule" surefire:test > "$work/test.log" 2>&1)
      failures=$(grep -E "^\[(INFO|ERROR)\] Tests run: [0-9]+, Failures" "$work/test.log" | tail -1 | sed 's/^\[[A-Z]*\] //')
      if grep -q "BUILD SUCCESS" "$work/test.log"; then verdict=missed; else verdict=caught; fi
      echo "${file#"$work"/src/}:$line under $schedule: $verdict ($failures)"
    done
  fi
  mv "$file.orig" "$file"
done
