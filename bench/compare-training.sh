#!/usr/bin/env bash
# elbo4j's training against PyTorch's on this machine, in one run, as one table (and JSON):
# dev.elbo4j.bench.TrainingComparison (see bench/README.md, "Training against PyTorch"). The CPU by default;
# --backend cuda on a machine with a GPU and Java (a GPU machine without Java: bench/gpu/run.sh train).
# usage: bench/compare-training.sh [--build] [TrainingComparison options, e.g. --rows 784-400-20/128 --quick]
#   --build  compiles first (mvn -o test-compile; -DskipTests would skip compiling the benchmarks); without it the classes of the last build are used
# env: ELBO4J_JDK (default /usr/lib/jvm/temurin-25-jdk-amd64); ELBO4J_CUDA_LIBRARY (a CUDA driver library to
#      use instead of libcuda.so.1, e.g. target/native/libelbo4j-cudaemu.so: the emulator, a plumbing check only)
set -euo pipefail
cd "$(dirname "$0")/.."

jdk=${ELBO4J_JDK:-/usr/lib/jvm/temurin-25-jdk-amd64}
export JAVA_HOME=$jdk PATH="$jdk/bin:$PATH"
classpath_file=target/bench/classpath.txt

if [ "${1:-}" = --build ] || [ ! -d target/test-classes/dev/elbo4j/bench ]; then
  [ "${1:-}" = --build ] && shift
  mvn -B -ntp -o -q test-compile </dev/null
fi
if [ ! -f "$classpath_file" ] || [ pom.xml -nt "$classpath_file" ]; then
  mkdir -p target/bench
  mvn -B -ntp -o -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$classpath_file" \
    </dev/null
fi

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit (with local changes)"
cuda_library=()
[ -n "${ELBO4J_CUDA_LIBRARY:-}" ] && cuda_library=("-Delbo4j.cuda.library=$ELBO4J_CUDA_LIBRARY")
exec java --enable-native-access=ALL-UNNAMED "-Delbo4j.bench.commit=$commit" "${cuda_library[@]}" \
  -cp "target/test-classes:target/classes:$(cat "$classpath_file")" \
  dev.elbo4j.bench.TrainingComparison --command "bench/compare-training.sh $*" "$@"
