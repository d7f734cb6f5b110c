#!/usr/bin/env bash
# The planted-bug experiment for the fiber schedules: for every __syncthreads in kernels/, builds the
# emulator from a copy of the sources without that one barrier and runs the CUDA tests against it under
# each schedule given (default: fifo warps:1 warps:2), printing per barrier and schedule whether the
# tests caught the removal. Takes 1 to 2 minutes per barrier and schedule on 2 cores; not in CI (which runs the
# planted copies of native/test/kernels/planted.cu instead). Run from a built checkout (mvn verify
# first: it uses target/test-classes); writes to WORK_DIR (default /tmp/elbo4j-remove-barriers).
#   usage: native/test/remove-barriers.sh [SCHEDULE...]    (env: ELBO4J_JDK, WORK_DIR)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export JAVA_HOME=${ELBO4J_JDK:-/usr/lib/jvm/temurin-25-jdk-amd64}
export PATH="$JAVA_HOME/bin:$PATH"
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
      # The summary line: "Tests run: N, Failures: F, Errors: E, Skipped: S".
      read -r run failed errors < <(grep -E "^\[(INFO|ERROR)\] Tests run: [0-9]+, Failures" "$work/test.log" | tail -1 |
        sed -E 's/.*Tests run: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2 \3/')
      if grep -q "BUILD SUCCESS" "$work/test.log"; then
        verdict="missed ($run tests passed)"
      elif [ "${run:-0}" -gt 0 ] && [ $((${failed:-0} + ${errors:-0})) -gt 0 ]; then
        verdict="caught ($failed failure(s), $errors error(s) of $run tests)"
      else
        verdict="no verdict: the test run broke ($work/test.log)"
      fi
      echo "${file#"$work"/src/}:$line under $schedule: $verdict"
    done
  fi
  # Restored, and newer than the objects built without the barrier: the next build recompiles them.
  mv "$file.orig" "$file"
  touch "$file"
done
