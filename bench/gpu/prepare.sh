#!/usr/bin/env bash
# Runs on a build machine (JDK 25, Maven, nvcc): builds into target/gpu everything a GPU machine needs to run
# the CUDA tests and the benchmarks with bench/gpu/run.sh. The GPU machine has CUDA, nvcc and Python but no
# Java and no network, and target/gpu travels to it with the working tree (64 MiB in all for a device call; this
# script fails when the two leave less than ELBO4J_GPU_HEADROOM_MIB, default 4), so the bundle carries its own JRE.
# The two largest parts travel compressed; run.sh unpacks them under $TMPDIR at each run (not into target/gpu,
# which must stay small enough to carry after a rehearsal here):
#   target/gpu/lib/           the library jar (with the kernels' fatbin), JMH, the JUnit console launcher, ...
#   target/gpu/test-classes/  the compiled tests and benchmarks (JMH's generated harness and BenchmarkList)
#   target/gpu/jre.tar.xz     jre/: a Java 25 runtime jlink'd down to the modules these classes use
#   target/gpu/natives.tar.xz natives/: the OpenBLAS natives the CPU backend loads (the CUDA tests compare with it),
#                             a class-path folder, in place of the 20 MB jar of every OpenBLAS variant
#   target/gpu/data/          the first ELBO4J_GPU_DATA_IMAGES (2048) Fashion-MNIST training images: all 60000 do
#                             not fit the carry limit beside the JRE; the training benchmarks repeat them to an
#                             epoch of 60000 (dev.elbo4j.bench.TrainingProblem, bench/pytorch/vae_train.py)
#   target/gpu/ptxas-report.txt  the kernels' register/spill report from this build
#   target/gpu/BUILD.txt      what was built, with which tools, and the sizes
# usage: bench/gpu/prepare.sh [extra Maven arguments, e.g. -o]
# env:   ELBO4J_JDK (default /usr/lib/jvm/temurin-25-jdk-amd64), ELBO4J_GPU_HEADROOM_MIB (default 4),
#        ELBO4J_DATA (default /usr/share/datasets/fashion-mnist), ELBO4J_GPU_DATA_IMAGES (default 2048)
set -euo pipefail
cd "$(dirname "$0")/../.."

jdk=${ELBO4J_JDK:-/usr/lib/jvm/temurin-25-jdk-amd64}
headroom_mib=${ELBO4J_GPU_HEADROOM_MIB:-4}
carry_limit_mib=64
export JAVA_HOME=$jdk PATH="$jdk/bin:$PATH"
bundle=target/gpu

# The gpu-bundle profile copies the dependency jars into target/gpu/lib: start empty so no stale jar rides along.
rm -rf "$bundle"
# Two runs: -DskipTests skips compiling the tests and benchmarks too (pom.xml), so test-compile comes first (it stops
# before the emulator's build and the tests); then package, which must not run the tests.
echo "== build: mvn -Pgpu-bundle test-compile, then mvn -DskipTests -Pgpu-bundle package =="
mvn -B -ntp -Pgpu-bundle "$@" test-compile </dev/null
mvn -B -ntp -DskipTests -Pgpu-bundle "$@" package </dev/null

# The jar this build made: the newest elbo4j-*.jar that is not a sources, javadoc or tests jar.
library_jar=$(find target -maxdepth 1 -name 'elbo4j-*.jar' ! -name '*-sources.jar' ! -name '*-javadoc.jar' \
  ! -name '*-tests.jar' -printf '%T@ %p\n' | sort -rn | head -1 | cut -d' ' -f2-)
if [ -z "$library_jar" ]; then
  echo "prepare: no library jar in target/ after the build" >&2; exit 1
fi
cp "$library_jar" "$bundle/lib/"
cp -r target/test-classes "$bundle/test-classes"
if [ ! -f "$bundle/test-classes/META-INF/BenchmarkList" ]; then
  echo "prepare: target/test-classes has no META-INF/BenchmarkList: the JMH annotation processor did not run" >&2
  exit 1
fi
nvcc_release=none
if jar tf "$library_jar" | grep -qx dev/elbo4j/kernels/elbo4j.fatbin; then
  [ -f target/kernels/ptxas-report.txt ] && cp target/kernels/ptxas-report.txt "$bundle/ptxas-report.txt"
  # The same nvcc native/build-kernels.sh picks: run.sh compares its release with the GPU driver's CUDA version.
  nvcc=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
  nvcc_release=$("$nvcc" --version | sed -n 's/.*release \([0-9][0-9.]*\).*/\1/p')
else
  echo "prepare: WARNING: $library_jar carries no kernels (nvcc missing here);" \
    "run.sh will compile them on the GPU machine"
fi

# The modules: what jdeps finds that the library and the test/benchmark classes use directly, plus what the
# tools load reflectively or by name: JUnit's console launcher logs through java.logging and writes its XML
# reports with java.xml; JMH reads the VM's state through java.management and uses sun.misc.Unsafe
# (jdk.unsupported). jdeps does not follow the dependency jars (--no-recursive): commons-math3 (JMH's
# statistics) and the JUnit launcher reference java.desktop and java.sql only from code these runs never load;
# java.desktop is kept when our own classes use it: the command line's CUDA tests write PNGs.
# The library jar is a module (dev.elbo4j): jdeps resolves its requires on the module path, and lists the
# dependencies' modules too, of which jlink takes the JDK's (java.*, jdk.*). Its warnings (split packages between
# the JUnit launcher's shaded copies and the jars) go to stderr; the module list is its last line.
classpath="$bundle/lib/*"
own_modules=$(jdeps --multi-release 25 --ignore-missing-deps --no-recursive --print-module-deps \
  --module-path "$bundle/lib" --class-path "$classpath" "$bundle/lib/$(basename "$library_jar")" \
  "$bundle/test-classes" 2>/dev/null | tail -1)
modules=$(tr ',' '\n' <<< "$own_modules,java.logging,java.xml,java.management,jdk.unsupported" \
  | grep -E '^(java|jdk)\.' | sort -u | paste -sd, -)
echo "== jlink: $modules =="
# No jlink compression: the xz below does better on the plain image (20 MB against 32 with zip-9 inside).
jlink --add-modules "$modules" --strip-debug --no-man-pages --no-header-files \
  --output "$bundle/jre"
# The JDK's shared libraries keep their symbol tables (libjvm.so: ~5 of its ~30 MB); the bundle needs the room.
if command -v strip >/dev/null; then
  find "$bundle/jre/lib" -name '*.so' -exec strip --strip-unneeded {} +
else
  echo "prepare: WARNING: no strip here; the JRE keeps its symbol tables (~5 MB more)"
fi

# The CPU backend's OpenBLAS: of the natives jar, only the JNI library it loads (jniopenblas_nolapack) and the
# libraries that links, unpacked into a class-path folder (JavaCPP loads them from there).
natives_jar=$(find "$bundle/lib" -name 'openblas-*-linux-x86_64.jar' | head -1)
if [ -z "$natives_jar" ]; then
  echo "prepare: no openblas-*-linux-x86_64.jar in $bundle/lib: the gpu-bundle profile did not copy it" >&2; exit 1
fi
natives_path=org/bytedeco/openblas/linux-x86_64
mkdir -p "$bundle/natives"
(cd "$bundle/natives" && jar xf "$OLDPWD/$natives_jar" "$natives_path/libjniopenblas_nolapack.so" \
  "$natives_path/libopenblas.so.0" "$natives_path/libgfortran.so.5" "$natives_path/libquadmath.so.0" \
  "$natives_path/libgcc_s.so.1")
# The JNI library links libopenblas_nolapack.so.0 next to it, the name JavaCPP gives libopenblas.so.0 when it
# unpacks a jar into its cache; from a folder it loads the files where they are.
ln -s libopenblas.so.0 "$bundle/natives/$natives_path/libopenblas_nolapack.so.0"
rm "$natives_jar"

# Training data for the training benchmarks: a prefix of Fashion-MNIST's training images as a smaller IDX file.
data_dir=${ELBO4J_DATA:-/usr/share/datasets/fashion-mnist}
data_images=${ELBO4J_GPU_DATA_IMAGES:-2048}
mkdir -p "$bundle/data"
python3 - "$data_dir/train-images-idx3-ubyte.gz" "$bundle/data/train-images-idx3-ubyte.gz" "$data_images" <<'PY'
import gzip, struct, sys
source, target, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with gzip.open(source, "rb") as stream:
    magic, total, rows, columns = struct.unpack(">IIII", stream.read(16))
    if magic != 0x0803 or count > total:
        sys.exit(f"prepare: {source} is not an IDX image file of at least {count} images")
    pixels = stream.read(count * rows * columns)
with gzip.open(target, "wb", compresslevel=9) as out:
    out.write(struct.pack(">IIII", magic, count, rows, columns) + pixels)
PY

{
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo 'no commit')," \
    "$(git status --porcelain 2>/dev/null | wc -l) paths changed since"
  echo "library: $(basename "$library_jar")"
  echo "nvcc_release=$nvcc_release"
  echo "jre: $("$bundle/jre/bin/java" -version 2>&1 | head -1); modules: $modules"
  echo "data: the first $data_images training images of $data_dir"
  echo "files:"
  (cd "$bundle" && du -ab lib natives data ptxas-report.txt 2>/dev/null | sort -k2)
} > "$bundle/BUILD.txt"

# xz takes the JRE from ~86 to ~20 MB and the natives from ~41 to ~5.5 (run.sh unpacks them on the GPU machine).
echo "== compressing jre/ and natives/ (xz) =="
for part in jre natives; do
  tar -C "$bundle" -cJf "$bundle/$part.tar.xz" "$part"
  rm -rf "${bundle:?}/$part"
done

size=$(du -sb "$bundle" | cut -f1)
# What else a device call sends: the tracked and untracked-not-ignored files of the working tree.
tree=$(git ls-files -z --cached --others --exclude-standard 2>/dev/null | du --files0-from=- -cb 2>/dev/null \
  | tail -1 | cut -f1)
tree=${tree:-0}
mib() { awk -v bytes="$1" 'BEGIN { printf "%.1f", bytes / 1048576 }'; }
part_sizes=$(cd "$bundle" && du -sh jre.tar.xz natives.tar.xz lib test-classes data | awk '{ printf "%s%s %s", sep, $2, $1; sep = ", " }')
echo "== target/gpu: $(mib "$size") MiB ($part_sizes); with the working tree's $(mib "$tree") MiB:" \
  "$(mib $((size + tree))) of the $carry_limit_mib MiB a device call carries =="
if [ $((size + tree + headroom_mib * 1048576)) -gt $((carry_limit_mib * 1048576)) ]; then
  echo "prepare: target/gpu ($(mib "$size") MiB) and the working tree ($(mib "$tree") MiB) leave less than" \
    "${headroom_mib} MiB of the ${carry_limit_mib} MiB a device call carries" >&2
  exit 1
fi
echo "prepare: done. On the GPU machine: bench/gpu/run.sh (carry target/gpu)"
