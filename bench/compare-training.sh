#!/usr/bin/env bash
# elbo4j's training against PyTorch's on this machine's CPU, in one run, as one table (and JSON):
# dev.elbo4j.bench.TrainingComparison (see bench/README.md, "Training against PyTorch").
# usage: bench/compare-training.sh [--build] [TrainingComparison options, e.g. --rows 784-400-20/128 --quick]
#   --build  compiles first (mvn -o -DskipTests test-compile); without it the classes of the last build are used
# env: ELBO4J_JDK (default /usr/lib/jvm/temurin-25-jdk-amd64)
set -euo pipefail
cd "$(dirname "$0")/.."

jdk=${ELBO4J_JDK:-/usr/lib/jvm/temurin-25-jdk-amd64}
export JAVA_HOME=$jdk PATH="$jdk/bin:$PATH"
classpath_file=target/bench/classpath.txt

if [ "${1:-}" = --build ] || [ ! -d target/test-classes/dev/elbo4j/bench ]; then
  [ "${1:-}" = --build ] && shift
  mvn -B -ntp -o -q -DskipTests test-compile </dev/null
fi
if [ ! -f "$classpath_file" ] || [ pom.xml -nt "$classpath_file" ]; then
  mkdir -p target/bench
  mvn -B -ntp -o -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$classpath_file" \
    </dev/null
fi

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit (with local changes)"
exec java --enable-native-access=ALL-UNNAMED "-Delbo4j.bench.commit=$commit" \
  -cp "target/test-classes:target/classes:$(cat "$classpath_file")" \
  dev.elbo4j.bench.TrainingComparison --command "bench/compare-training.sh $*" "$@"
