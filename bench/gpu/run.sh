#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, with the bundle that bench/gpu/prepare.sh built
# elsewhere in target/gpu (that machine has CUDA, nvcc and Python but no Java and no network).
# Everything it produces goes under $OUT. Steps, in this order, each logging to $OUT/<step>.log; a failed
# step does not stop the next one, and the exit status is non-zero when any step failed:
#   env      nvidia-smi, the driver's CUDA version, nvcc, the bundled JRE          -> $OUT/env.txt
#   kernels  recompiles kernels/*.cu with this machine's nvcc for this GPU, but only when the jar's fatbin
#            cannot load here: the jar has none, or the driver's CUDA major version is older than the nvcc
#            that built it. The new fatbin goes first on the class path. ELBO4J_DEVICE_KERNELS=always|never
#            overrides the check; the ptxas report goes to $OUT/ptxas-report-device.txt.
#   tests    the JUnit tests tagged "cuda" on the GPU; a missing CUDA backend fails   -> $OUT/junit/
#   jmh      the JMH benchmarks, one JMH run per benchmark class so that a run cut short keeps the classes
#            already measured                                                      -> $OUT/jmh/<Class>.json
#   pytorch  bench/pytorch/elbo_peer.py, when torch imports (skipped otherwise)     -> $OUT/pytorch.json
#   report   the side-by-side tables from the JMH (and PyTorch) results            -> $OUT/report.txt
#   train    training against PyTorch in one run (dev.elbo4j.bench.TrainingComparison --backend cuda): the
#            agreement check (FP32 and TF32), one epoch, and the FP32 rows: elbo4j's step graph-replayed and
#            direct, its GEMMs alone, PyTorch eager, torch.compile and mode="reduce-overhead"
#                                                                       -> $OUT/train.json
#   train-tf32  the same rows with TF32 GEMMs (no agreement or epoch)   -> $OUT/train-tf32.json
#            Not in the default set: each takes ~5-8 minutes, so each is a device call of its own.
#
# usage: bench/gpu/run.sh [--smoke] [STEP...]     (no STEP: all of them; env and kernels always run first, since
#        a device call starts from a fresh copy of target/gpu)
#   --smoke  a plumbing check: JMH with one fork, one short warmup and measurement iteration, B = 128,
#            no L2 rotation; the PyTorch peer likewise at B = 128 with few repetitions; train on a tiny model
#            (784-16-4, batch 32; epoch at batch 512) with one short iteration and a few PyTorch steps.
# env:
#   OUT                    output directory (required)
#   ELBO4J_CUDA_LIBRARY    unset or empty: the real libcuda.so.1 and libcublas. A path: that library instead,
#                          e.g. target/native/libelbo4j-cudaemu.so to rehearse this script without a GPU.
#   ELBO4J_BENCH           regex over benchmark class names (default: all the kernel benchmarks; the training
#                          benchmarks run in the train steps, the Cpu* ones need OpenBLAS's natives, which the
#                          bundle leaves out), e.g. 'Bernoulli|DeviceCopy'
#   JMH_ARGS               extra JMH options, e.g. '-p batch=4096 -i 10' (written "-opt value"); an option or
#                          -p parameter given here replaces the preset's
#   ELBO4J_JMH_BUDGET_S    seconds the jmh step may take in all (default 480; the full set is 67 forks, each
#                          3 s of iterations plus start-up): a class that would start after it is skipped and
#                          the step fails
#   ELBO4J_TEST_SEED       passed to the tests as -Delbo4j.test.seed
#   PYTHON                 the Python for the PyTorch peer (default python3)
#   PEER_ARGS              extra options of elbo_peer.py, e.g. '--compile' (torch.compile'd closed forms)
#   ELBO4J_TRAIN_ROWS      rows of the train step (MODEL/BATCH[/PRECISION],...), replacing its default
#   TRAIN_ARGS             extra options of TrainingComparison, e.g. '--variants eager,compile --peer-repeats 2'
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

if [ -z "${OUT:-}" ]; then
  echo "run.sh: set OUT to an output directory" >&2; exit 2
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

smoke=false
steps=()
for arg in "$@"; do
  case "$arg" in
    --smoke) smoke=true ;;
    env|kernels) ;;  # always run, below
    tests|jmh|pytorch|report|train) steps+=("$arg") ;;
    train-tf32) steps+=(train_tf32) ;;
    *) echo "run.sh: unknown argument '$arg' (steps: env kernels tests jmh pytorch report train train-tf32;" \
         "option: --smoke)" >&2
       exit 2 ;;
  esac
done
[ ${#steps[@]} -gt 0 ] || steps=(tests jmh pytorch report)
steps=(env kernels "${steps[@]}")

bundle=target/gpu
java=$bundle/jre/bin/java
if [ ! -x "$java" ] || [ ! -d "$bundle/test-classes" ]; then
  echo "run.sh: no bundle in $bundle: run bench/gpu/prepare.sh on a machine with Java and carry target/gpu" >&2
  exit 2
fi
cuda_library=${ELBO4J_CUDA_LIBRARY:-}
device_kernels=$bundle/device-kernels
python=${PYTHON:-python3}

class_path() {
  local cp="$bundle/test-classes:$bundle/lib/*"
  # A fatbin compiled here (kernels step) shadows the jar's: the class loader finds the first resource.
  [ -f "$device_kernels/classes/dev/elbo4j/kernels/elbo4j.fatbin" ] && cp="$device_kernels/classes:$cp"
  echo "$cp"
}

# Every JVM gets the backend choice explicitly; JMH's forked JVMs inherit these options from their parent.
java_options=(--enable-native-access=ALL-UNNAMED "-Delbo4j.cuda.library=$cuda_library")

step_env() {
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(hostname)"
    echo "backend: ${cuda_library:-the real libcuda.so.1 and libcublas}"
    if command -v nvidia-smi >/dev/null; then
      nvidia-smi
      nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total,clocks.max.sm,clocks.max.memory \
        --format=csv
    else
      echo "nvidia-smi: not found"
    fi
    command -v nvcc >/dev/null && nvcc --version | tail -2
    "$java" -version 2>&1
    cat "$bundle/BUILD.txt"
  } > "$OUT/env.txt" 2>&1
}

# The driver's highest supported CUDA version, e.g. 12.8, from nvidia-smi's banner ("" when unknown).
driver_cuda_version() {
  command -v nvidia-smi >/dev/null && nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9][0-9.]*\).*/\1/p' | head -1
}

step_kernels() {
  local mode=${ELBO4J_DEVICE_KERNELS:-auto}
  local built_with driver reason=""
  built_with=$(sed -n 's/^nvcc_release=//p' "$bundle/BUILD.txt")
  driver=$(driver_cuda_version || true)
  case "$mode" in
    never) echo "ELBO4J_DEVICE_KERNELS=never: using the jar's fatbin"; return "$skipped" ;;
    always) reason="ELBO4J_DEVICE_KERNELS=always" ;;
    auto)
      if [ "$built_with" = none ]; then
        reason="the jar was built without kernels"
      elif [ -n "$driver" ] && [ "${driver%%.*}" -lt "${built_with%%.*}" ]; then
        reason="the driver supports CUDA $driver, older than the nvcc $built_with that built the jar's fatbin"
      else
        echo "the jar's fatbin (nvcc $built_with) suits this driver (CUDA ${driver:-unknown}): nothing to compile"
        return "$skipped"
      fi ;;
    *) echo "ELBO4J_DEVICE_KERNELS must be auto, always or never, not '$mode'"; return 1 ;;
  esac
  echo "compiling kernels/*.cu here: $reason"
  command -v nvcc >/dev/null || { echo "no nvcc on this machine"; return 1; }
  local arch
  arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
  [ -n "$arch" ] || { echo "cannot read the GPU's compute capability from nvidia-smi"; return 1; }
  rm -rf "$device_kernels"
  ELBO4J_ARCHS=$arch bash native/build-kernels.sh "$device_kernels/classes/dev/elbo4j/kernels" \
    "$device_kernels/report" || return 1
  cp "$device_kernels/report/ptxas-report.txt" "$OUT/ptxas-report-device.txt"
}

step_tests() {
  local options=("${java_options[@]}" -Delbo4j.test.requireBackend=true)
  [ -n "${ELBO4J_TEST_SEED:-}" ] && options+=("-Delbo4j.test.seed=$ELBO4J_TEST_SEED")
  ELBO4J_TEST_REQUIRE_BACKEND=true "$java" "${options[@]}" -cp "$(class_path)" \
    org.junit.platform.console.ConsoleLauncher execute \
    --scan-class-path="$bundle/test-classes" --include-tag=cuda --fail-if-no-tests \
    --reports-dir="$OUT/junit" --details=tree --disable-banner --disable-ansi-colors
}

step_jmh() {
  local budget=${ELBO4J_JMH_BUDGET_S:-480}
  local deadline=$((SECONDS + budget))
  local preset
  if $smoke; then
    preset=(-f 1 -wi 1 -w 1s -i 1 -r 1s -p batch=128 -p rotateMiB=0)
  else
    preset=(-f 1 -wi 2 -w 500ms -i 4 -r 500ms)
  fi
  # JMH_ARGS is split on whitespace on purpose: it is a list of options.
  # shellcheck disable=SC2206
  local extra=(${JMH_ARGS:-})
  # The preset less what JMH_ARGS sets itself: JMH rejects an option given twice, and runs a -p parameter
  # given twice with both values.
  local settings=() i option value
  for ((i = 0; i < ${#preset[@]}; i += 2)); do
    option=${preset[i]} value=${preset[i + 1]}
    if [ "$option" = -p ]; then
      [[ " ${extra[*]} " == *" -p ${value%%=*}="* ]] && continue
    else
      [[ " ${extra[*]} " == *" $option "* ]] && continue
    fi
    settings+=("$option" "$value")
  done
  mkdir -p "$OUT/jmh"
  local classes
  # The copy benchmark first: it is the bandwidth every kernel is compared with.
  classes=$("$java" "${java_options[@]}" -cp "$(class_path)" org.openjdk.jmh.Main -l \
    | sed -n 's/^dev\.elbo4j\.bench\.\([A-Za-z0-9_]*\)\..*/\1/p' | sort -u \
    | { if [ -n "${ELBO4J_BENCH:-}" ]; then grep -E "$ELBO4J_BENCH"; else grep -v -E '^Cpu|TrainingBench$'; fi; } \
    | awk '{ print ($0 == "DeviceCopyBench" ? 0 : 1), $0 }' | sort | cut -d' ' -f2)
  [ -n "$classes" ] || { echo "no benchmark classes match ELBO4J_BENCH='${ELBO4J_BENCH:-}'"; return 1; }
  local status=0 class left
  for class in $classes; do
    left=$((deadline - SECONDS))
    if [ "$left" -le 10 ]; then
      echo "== $class: SKIPPED, the jmh step's ${budget} s budget is spent (ELBO4J_JMH_BUDGET_S)"
      status=1; continue
    fi
    echo "== $class (${left} s left) =="
    timeout "$left" "$java" "${java_options[@]}" -cp "$(class_path)" org.openjdk.jmh.Main \
      "^dev\\.elbo4j\\.bench\\.$class\\." "${settings[@]}" "${extra[@]}" \
      -rf json -rff "$OUT/jmh/$class.json" 2>&1 | tee "$OUT/jmh/$class.log"
    local rc=${PIPESTATUS[0]}
    # JMH carries on past a benchmark that threw and still exits 0: its "<failure>" marker says so.
    if [ "$rc" -ne 0 ] || grep -q '<failure>' "$OUT/jmh/$class.log"; then
      echo "== $class: FAILED (exit $rc)"; status=1
    fi
  done
  return $status
}

step_pytorch() {
  if ! "$python" -c 'import torch' 2>/dev/null; then
    echo "$python cannot import torch"; return "$skipped"
  fi
  # PEER_ARGS is split on whitespace on purpose: it is a list of options.
  # shellcheck disable=SC2206
  local options=(--out "$OUT/pytorch.json" ${PEER_ARGS:-})
  $smoke && options+=(--smoke)
  "$python" bench/pytorch/elbo_peer.py "${options[@]}"
}

step_report() {
  local inputs=("$OUT"/jmh/*.json)
  [ -e "${inputs[0]}" ] || { echo "no JMH results in $OUT/jmh"; return 1; }
  local options=()
  [ -f "$OUT/pytorch.json" ] && options+=(--pytorch "$OUT/pytorch.json")
  "$java" -cp "$(class_path)" dev.elbo4j.bench.Report "${options[@]}" "${inputs[@]}" > "$OUT/report.txt"
}

# The training comparison (bench/README.md, "Training against PyTorch"): $1 = the result's name under $OUT, $2 =
# the default rows, then TrainingComparison's own options.
training_comparison() {
  local name=$1 rows=$2
  shift 2
  # The JMH logs, PyTorch's files and the agreement fixtures stay off $OUT (a device call returns 8 files at most):
  # $OUT/$name.json holds every number. TRAIN_ARGS is split on whitespace on purpose: it is a list of options.
  # shellcheck disable=SC2206
  local options=(--backend cuda --data "$bundle/data" --python "$python" --json "$OUT/$name.json"
    --work "${TMPDIR:-/tmp}/elbo4j-$name" "$@" ${TRAIN_ARGS:-})
  if ! "$python" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
    echo "$python has no PyTorch that sees a GPU: elbo4j alone (no PyTorch rows, no agreement)"
    options+=(--no-peer)
  fi
  if $smoke; then
    rows=${ELBO4J_TRAIN_ROWS:-784-16-4/32}
    options+=(--quick --epoch 784-16-4/512)
  fi
  "$java" "${java_options[@]}" "-Delbo4j.bench.commit=$(sed -n 's/^git: //p' "$bundle/BUILD.txt")" \
    -cp "$(class_path)" dev.elbo4j.bench.TrainingComparison --rows "${ELBO4J_TRAIN_ROWS:-$rows}" \
    --command "bench/gpu/run.sh $name" "${options[@]}"
}

step_train() {
  training_comparison train "784-400-20/128,784-400-20/4096,784-512-512-32/128,784-512-512-32/4096"
}

step_train_tf32() {
  training_comparison train-tf32 "784-400-20/128/tf32,784-400-20/4096/tf32,784-512-512-32/128/tf32,784-512-512-32/4096/tf32" \
    --no-agreement --epoch none
}

# A step function's exit status for "nothing to do here" (not a failure).
skipped=75
failed=()
for step in "${steps[@]}"; do
  echo "===== $step ====="
  started=$SECONDS
  "step_$step" > "$OUT/$step.log" 2>&1
  rc=$?
  if [ "$rc" -eq "$skipped" ]; then
    echo "===== $step: skipped, $(tail -1 "$OUT/$step.log") ====="
  elif [ "$rc" -eq 0 ]; then
    echo "===== $step: ok ($((SECONDS - started)) s; log \$OUT/$step.log) ====="
    # The report and the environment are what a reader of this output wants in full.
    case "$step" in
      report) cat "$OUT/report.txt" ;;
      env) head -25 "$OUT/env.txt" ;;
      train|train_tf32) sed -n '/^Training steps per second/,$p' "$OUT/$step.log" ;;
    esac
  else
    failed+=("$step")
    echo "===== $step: FAILED, exit $rc ($((SECONDS - started)) s); the end of \$OUT/$step.log: ====="
    tail -40 "$OUT/$step.log"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "run.sh: failed steps: ${failed[*]}"; exit 1
fi
echo "run.sh: all steps passed (${steps[*]})"
