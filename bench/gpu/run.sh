#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, with the bundle that bench/gpu/prepare.sh built
# elsewhere in target/gpu (that machine has CUDA, nvcc and Python but no Java and no network).
# A device call returns at most 8 files from $OUT (16 MiB each, no deeper than $OUT/a/b/file): so each step
# works in a folder of its own outside $OUT and leaves one archive there, $OUT/<step>.tar.gz (env and kernels
# share setup.tar.gz), and $OUT/summary.txt is everything this script printed (each step's status and time,
# the environment, the report, the training table, the end of a failed step's log, the files in $OUT).
# Every step run at once is 7 archives and the summary: 8 files. A failed step does not stop the next one,
# and the exit status is non-zero when any step failed or was cut short. Steps, in this order:
#   env      nvidia-smi, the driver's CUDA version, nvcc, the bundled JRE          -> setup: env.txt
#   kernels  recompiles kernels/*.cu with this machine's nvcc for this GPU, but only when the jar's fatbin
#            cannot load here: the jar has none, or the driver's CUDA major version is older than the nvcc
#            that built it. The new fatbin goes first on the class path. ELBO4J_DEVICE_KERNELS=always|never
#            overrides the check; the ptxas report goes to setup: ptxas-report-device.txt.
#   tests    the JUnit tests tagged "cuda" on the GPU; a missing CUDA backend fails   -> tests: junit/*.xml
#   jmh      the JMH benchmarks, one JMH run per benchmark class so that a run cut short keeps the classes
#            already measured                                                       -> jmh: <Class>.json
#   pytorch  bench/pytorch/elbo_peer.py, when torch imports (skipped otherwise)     -> pytorch: pytorch.json
#   report   the side-by-side tables from the JMH (and PyTorch) results            -> report: report.txt
#   train    training against PyTorch in one run (dev.elbo4j.bench.TrainingComparison --backend cuda): the
#            agreement check (FP32 and TF32), one epoch, and the FP32 rows: elbo4j's step graph-replayed and
#            direct, its GEMMs alone, PyTorch eager, torch.compile and mode="reduce-overhead"
#                                                      -> train: train.json, work/ (JMH logs, PyTorch's JSON)
#   train-tf32  the same rows with TF32 GEMMs (no agreement or epoch)   -> train-tf32: train-tf32.json
#            Not in the default set: each takes ~5-8 minutes, so each is a device call of its own.
#   session  the whole GPU session in one device call of about ELBO4J_SESSION_S (default 360) seconds:
#            tests, train, jmh, pytorch, report, each in a shorter configuration and within its share of the
#            time (tests 15%, train 50%, jmh 20%, pytorch 10%, report 5%, each with what the steps before it left
#            unused; a step stops there, and the summary says it was cut): train measures
#            784-400-20/128 and 784-512-512-32/4096 with PyTorch eager and reduce-overhead, 2 repeats; jmh
#            runs the fused and unfused methods (not the CPU reference) in the JMH JVM of each class (-f 0),
#            1 warm-up and 2 measured iterations of 200 ms; the PyTorch peer 20 repetitions. A first look,
#            not the measurement the separate steps make. Alone: no other step goes with it.
#
# usage: bench/gpu/run.sh [--smoke] [STEP...]     (no STEP: tests jmh pytorch report; env and kernels always
#        run first, since a device call starts from a fresh copy of target/gpu)
#   --smoke  a plumbing check: JMH with one fork, one short warmup and measurement iteration, B = 128,
#            no L2 rotation; the PyTorch peer likewise at B = 128 with few repetitions; train on a tiny model
#            (784-16-4, batch 32; epoch at batch 512) with one short iteration and a few PyTorch steps.
# env:
#   OUT                    output directory (required)
#   ELBO4J_CUDA_LIBRARY    unset or empty: the real libcuda.so.1 and libcublas. A path: that library instead,
#                          e.g. target/native/libelbo4j-cudaemu.so to rehearse this script without a GPU.
#   ELBO4J_SESSION_S       the session's length in seconds (default 360)
#   ELBO4J_BENCH           regex over benchmark class names (default: all the kernel benchmarks; the training
#                          benchmarks run in the train steps, the Cpu* ones measure the CPU),
#                          e.g. 'Bernoulli|DeviceCopy'
#   JMH_ARGS               extra JMH options, e.g. '-p batch=4096 -i 10' (written "-opt value"); an option or
#                          -p parameter given here replaces the preset's
#   ELBO4J_JMH_BUDGET_S    seconds the jmh step may take in all (default 480; in a session, its share; the full
#                          set is 67 forks, each 3 s of iterations plus start-up): a class that would start after
#                          it is skipped and the step fails
#   ELBO4J_TEST_SEED       passed to the tests as -Delbo4j.test.seed
#   PYTHON                 the Python for the PyTorch peer (default python3)
#   PEER_ARGS              extra options of elbo_peer.py, e.g. '--compile' (torch.compile'd closed forms)
#   ELBO4J_TRAIN_ROWS      rows of the train step (MODEL/BATCH[/PRECISION],...), replacing its default
#   TRAIN_ARGS             extra options of TrainingComparison, e.g. '--variants eager,compile --peer-repeats 2'
#   TMPDIR                 where the steps work before their archives go to $OUT (default /tmp)
set -uo pipefail
# This script by an absolute path: the main loop starts each step as a run of its own.
script=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$0")/../.." || exit 2

if [ -z "${OUT:-}" ]; then
  echo "run.sh: set OUT to an output directory" >&2; exit 2
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export OUT

arguments="$*"
smoke=false
session=false
# Internal: run.sh [--smoke] [session] __step STEP RESULTS runs one step (the main loop below starts it so under
# a time limit); RESULTS is the folder of the steps' working folders.
internal_step=""
steps=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=true ;;
    session) session=true ;;
    __step) internal_step=$2 results=$3; shift 2 ;;
    env|kernels) ;;  # always run, below
    tests|jmh|pytorch|report|train) steps+=("$1") ;;
    train-tf32) steps+=(train_tf32) ;;
    *) echo "run.sh: unknown argument '$1' (steps: env kernels tests jmh pytorch report train train-tf32," \
         "or session alone; option: --smoke)" >&2
       exit 2 ;;
  esac
  shift
done
if $session && [ ${#steps[@]} -gt 0 ]; then
  echo "run.sh: session runs its own steps (tests train jmh pytorch report): name no other" >&2; exit 2
fi
if $session; then
  steps=(tests train jmh pytorch report)
elif [ ${#steps[@]} -eq 0 ]; then
  steps=(tests jmh pytorch report)
fi
steps=(env kernels "${steps[@]}")
session_s=${ELBO4J_SESSION_S:-360}

bundle=target/gpu
if [ ! -d "$bundle/test-classes" ] || [ ! -f "$bundle/jre.tar.xz" ] || [ ! -f "$bundle/natives.tar.xz" ]; then
  echo "run.sh: no bundle in $bundle: run bench/gpu/prepare.sh on a machine with Java and carry target/gpu" >&2
  exit 2
fi
# The steps' working folders, and the JRE and OpenBLAS natives that prepare.sh compressed for the trip, unpacked
# here rather than in target/gpu, which must stay small enough to carry.
python=${PYTHON:-python3}
# $1 (a .tar.xz) into the folder $2: with xz where there is one, else with Python's lzma.
unpack() {
  if command -v xz >/dev/null; then
    tar -C "$2" -xJf "$1"
  else
    "$python" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2], filter="tar")' "$1" "$2"
  fi
}
if [ -z "$internal_step" ]; then
  results=$(mktemp -d "${TMPDIR:-/tmp}/elbo4j-run.XXXXXX")
  mkdir "$results/bundle"
  for part in jre natives; do
    unpack "$bundle/$part.tar.xz" "$results/bundle" \
      || { echo "run.sh: cannot unpack $bundle/$part.tar.xz" >&2; exit 2; }
  done
fi
java=$results/bundle/jre/bin/java
cuda_library=${ELBO4J_CUDA_LIBRARY:-}
device_kernels=$results/device-kernels

class_path() {
  local cp="$bundle/test-classes:$bundle/lib/*:$results/bundle/natives"
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
  } > "$dir/env.txt" 2>&1
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
  cp "$device_kernels/report/ptxas-report.txt" "$dir/ptxas-report-device.txt"
}

step_tests() {
  local options=("${java_options[@]}" -Delbo4j.test.requireBackend=true)
  [ -n "${ELBO4J_TEST_SEED:-}" ] && options+=("-Delbo4j.test.seed=$ELBO4J_TEST_SEED")
  ELBO4J_TEST_REQUIRE_BACKEND=true "$java" "${options[@]}" -cp "$(class_path)" \
    org.junit.platform.console.ConsoleLauncher execute \
    --scan-class-path="$bundle/test-classes" --include-tag=cuda --fail-if-no-tests \
    --reports-dir="$dir/junit" --details=tree --disable-banner --disable-ansi-colors
}

step_jmh() {
  local budget=${ELBO4J_JMH_BUDGET_S:-480}
  local deadline=$((SECONDS + budget))
  local preset
  if $session; then
    # Each class's benchmarks in its JMH JVM (no fork per benchmark: 67 JVM starts would take the whole share),
    # the fused and unfused methods only.
    preset=(-f 0 -wi 1 -w 200ms -i 2 -r 200ms -e '\.cpu$')
    $smoke && preset+=(-p batch=128 -p rotateMiB=0)
  elif $smoke; then
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
      -rf json -rff "$dir/$class.json" 2>&1 | tee "$dir/$class.log"
    local rc=${PIPESTATUS[0]}
    # JMH carries on past a benchmark that threw and still exits 0: its "<failure>" marker says so.
    if [ "$rc" -ne 0 ] || grep -q '<failure>' "$dir/$class.log"; then
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
  local options=(--out "$dir/pytorch.json")
  if $smoke; then
    options+=(--smoke)
  elif $session; then
    options+=(--repetitions 20)
  fi
  # shellcheck disable=SC2206
  options+=(${PEER_ARGS:-})
  "$python" bench/pytorch/elbo_peer.py "${options[@]}"
}

step_report() {
  local inputs=("$results"/jmh/*.json)
  [ -e "${inputs[0]}" ] || { echo "no JMH results: the jmh step did not run or measured nothing"; return 1; }
  local options=()
  [ -f "$results/pytorch/pytorch.json" ] && options+=(--pytorch "$results/pytorch/pytorch.json")
  "$java" -cp "$(class_path)" dev.elbo4j.bench.Report "${options[@]}" "${inputs[@]}" > "$dir/report.txt"
}

# The training comparison (bench/README.md, "Training against PyTorch"): $1 = the result's name, $2 = the default
# rows, then TrainingComparison's own options.
training_comparison() {
  local name=$1 rows=$2
  shift 2
  # $dir/$name.json holds every number; the JMH logs, PyTorch's JSON and the agreement fixtures go to $dir/work
  # (the archive leaves out the fixtures' tensors). TRAIN_ARGS is split on whitespace on purpose: it is a list of
  # options.
  local options=(--backend cuda --data "$bundle/data" --python "$python" --json "$dir/$name.json"
    --work "$dir/work" "$@")
  local command="bench/gpu/run.sh $name"
  if $session; then
    rows="784-400-20/128,784-512-512-32/4096"
    options+=(--variants eager,reduce-overhead --peer-repeats 2)
    command="bench/gpu/run.sh session"
  fi
  # shellcheck disable=SC2206
  options+=(${TRAIN_ARGS:-})
  if ! "$python" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
    echo "$python has no PyTorch that sees a GPU: elbo4j alone (no PyTorch rows, no agreement)"
    options+=(--no-peer)
  fi
  if $smoke; then
    rows=784-16-4/32
    options+=(--quick --epoch 784-16-4/512)
  fi
  "$java" "${java_options[@]}" "-Delbo4j.bench.commit=$(sed -n 's/^git: //p' "$bundle/BUILD.txt")" \
    -cp "$(class_path)" dev.elbo4j.bench.TrainingComparison --rows "${ELBO4J_TRAIN_ROWS:-$rows}" \
    --command "$command" "${options[@]}"
}

step_train() {
  training_comparison train "784-400-20/128,784-400-20/4096,784-512-512-32/128,784-512-512-32/4096"
}

step_train_tf32() {
  training_comparison train-tf32 "784-400-20/128/tf32,784-400-20/4096/tf32,784-512-512-32/128/tf32,784-512-512-32/4096/tf32" \
    --no-agreement --epoch none
}

# The archive (and working folder) a step's files go to.
archive_of() {
  case "$1" in
    env|kernels) echo setup ;;
    train_tf32) echo train-tf32 ;;
    *) echo "$1" ;;
  esac
}

# A step function's exit status for "nothing to do here" (not a failure).
skipped=75

if [ -n "$internal_step" ]; then
  dir=$results/$(archive_of "$internal_step")
  "step_$internal_step"
  exit
fi

# A session step's share of the session, in percent (the kernels step has none: it adds no time when it skips).
session_share() {
  case "$1" in
    tests) echo 15 ;;
    train) echo 50 ;;
    jmh) echo 20 ;;
    pytorch) echo 10 ;;
    report) echo 5 ;;
    *) echo 0 ;;
  esac
}

# $OUT/NAME.tar.gz from the working folder NAME, less the agreement fixtures' tensors (*.safetensors: their
# verdicts are in the JSON) and any other file over 4 MiB (named in the output).
pack() {
  local name=$1 large
  large=$(cd "$results" && find "$name" -type f -size +4096k ! -name '*.safetensors' -printf '%p (%s bytes) ')
  [ -n "$large" ] && echo "   $name.tar.gz leaves out files over 4 MiB: $large"
  (cd "$results" && find "$name" -type f -size -4097k ! -name '*.safetensors' -print0 \
    | tar czf "$OUT/$name.tar.gz" --null -T -)
}

# What run.sh prints also goes to $OUT/summary.txt.
exec 3>&1 > >(tee "$OUT/summary.txt" >&3) 2>&1
tee_pid=$!
finish() {
  exec 1>&3 2>&3
  wait "$tee_pid"
  rm -rf "${results:?}/bundle"
  exit "$1"
}

echo "run.sh ${arguments}: steps ${steps[*]}; working folders in $results, archives and summary.txt in $OUT"
$session && echo "session of ${session_s} s: tests 15%, train 50%, jmh 20%, pytorch 10%, report 5%, each step" \
  "with what the steps before it left unused"
session_end=$((SECONDS + session_s))
step_flags=()
$smoke && step_flags+=(--smoke)
$session && step_flags+=(session)
failed=()
# The archive the steps so far wrote to and nobody packed yet: packed once its last step is done (env and kernels
# both write setup), when a step of another archive starts or after the last step.
unpacked=
for index in "${!steps[@]}"; do
  step=${steps[index]}
  archive=$(archive_of "$step")
  if [ -n "$unpacked" ] && [ "$unpacked" != "$archive" ]; then
    pack "$unpacked"
    unpacked=
  fi
  mkdir -p "$results/$archive"
  log=$results/$archive/$step.log
  # The step's time limit: 0 (none) outside a session. In one: its share of the session plus what the steps
  # before it left unused (the time left less the later steps' shares), but never so late that the steps after it
  # have less than 10 s each. The kernels step, which compiles only when the jar's fatbin cannot load, has 120 s
  # and no share: a compilation takes its time from the later steps.
  limit=0
  if $session && [ "$step" != env ]; then
    later_shares=0
    for later_step in "${steps[@]:index+1}"; do
      later_shares=$((later_shares + session_s * $(session_share "$later_step") / 100))
    done
    left=$((session_end - SECONDS))
    limit=$((session_s * $(session_share "$step") / 100))
    [ "$step" = kernels ] && limit=120
    [ "$step" != kernels ] && [ $((left - later_shares)) -gt "$limit" ] && limit=$((left - later_shares))
    floor=$((left - 10 * (${#steps[@]} - 1 - index)))
    [ "$floor" -lt "$limit" ] && limit=$floor
    if [ "$limit" -lt 10 ]; then
      echo "===== $step: CUT, no session time left ====="
      failed+=("$step (no time left)")
      continue
    fi
  fi
  echo "===== $step =====$([ "$limit" -gt 0 ] && echo " (at most $limit s)")"
  started=$SECONDS
  # Its own process group under timeout, so that a step cut short takes its JVMs and Python with it.
  ELBO4J_JMH_BUDGET_S=${ELBO4J_JMH_BUDGET_S:-$([ "$limit" -gt 0 ] && echo $((limit - 5)) || echo 480)} \
    timeout --kill-after=10 "$limit" bash "$script" "${step_flags[@]}" __step "$step" "$results" > "$log" 2>&1
  rc=$?
  took=$((SECONDS - started))
  if [ "$rc" -eq "$skipped" ]; then
    echo "===== $step: skipped, $(tail -1 "$log") ====="
  elif [ "$rc" -eq 0 ]; then
    echo "===== $step: ok ($took s; log $archive.tar.gz: $archive/$step.log) ====="
    # The report and the environment are what a reader of this output wants in full.
    case "$step" in
      report) cat "$results/report/report.txt" ;;
      env) head -25 "$results/setup/env.txt" ;;
      train|train_tf32) sed -n '/^Training steps per second/,$p' "$log" ;;
    esac
  else
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      failed+=("$step (cut)")
      echo "===== $step: CUT at its limit of $limit s; the end of $archive/$step.log: ====="
    else
      failed+=("$step")
      echo "===== $step: FAILED, exit $rc ($took s); the end of $archive/$step.log: ====="
    fi
    tail -40 "$log"
    # A training run that failed may have printed its table; one cut short keeps in its JSON the rows it finished.
    case "$step" in
      train|train_tf32) sed -n '/^Training steps per second/,$p' "$log" ;;
    esac
  fi
  unpacked=$archive
done
[ -n "$unpacked" ] && pack "$unpacked"

echo "files in $OUT (a device call returns 8 at most, 16 MiB each):"
(cd "$OUT" && find . -type f -printf '   %P %s bytes\n' | sort)
count=$(find "$OUT" -type f | wc -l)
[ "$count" -gt 8 ] && echo "run.sh: WARNING: $count files in $OUT, more than the 8 a device call returns"
find "$OUT" -type f -size +16M -printf 'run.sh: WARNING: %P is over 16 MiB\n'
if [ ${#failed[@]} -gt 0 ]; then
  echo "run.sh: failed or cut steps: ${failed[*]}"
  finish 1
fi
echo "run.sh: all steps passed (${steps[*]})"
finish 0
