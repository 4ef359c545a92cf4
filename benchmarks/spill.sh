#!/usr/bin/env bash
# Runs the spill benchmark against a fresh vineyardd with a spill directory and writes
# benchmarks/results/spill-latest.json.
#
# usage: benchmarks/spill.sh [--quick] [--no-build] [--spill-dir DIR] [--cold-cache]
#   --quick         a 512 MiB daemon and fewer repetitions (under two minutes; default 1 GiB)
#   --no-build      use the artifacts already built (default: mvn -B -q -DskipTests package first)
#   --spill-dir DIR where spilled blobs go, on a disk (default: a new directory under /var/tmp);
#                   the run works in a new subdirectory of DIR and removes it on exit
#   --cold-cache    also time reloads and plain reads after `sync; echo 1 > /proc/sys/vm/drop_caches`
#                   (root only; drops the page cache of the whole machine)
#
# The daemon gets its own socket in a temporary directory and its shared memory under
# /dev/shm/vineyard-spill-bench; the socket, the shared memory and the spill files are removed on
# exit, whatever happens.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=0
build=1
cold=0
spill_parent=/var/tmp
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --no-build) build=0; shift ;;
    --cold-cache) cold=1; shift ;;
    --spill-dir)
      [ $# -ge 2 ] || { echo "spill.sh: --spill-dir needs a directory" >&2; exit 2; }
      spill_parent=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "spill.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

# shellcheck source=../bin/java-env
source "$root/bin/java-env"   # JAVA, JAVA_HOME, VINEYARD_JVM_FLAGS
# shellcheck source=lib.sh
source "$root/benchmarks/lib.sh"

if [ "$build" = 1 ]; then
  echo "[spill] building (mvn -B -q -DskipTests package) ..." >&2
  (cd "$root" && mvn -B -q -DskipTests package)
fi

bench_require_jar spill.sh

if [ "$quick" = 1 ]; then
  size=512Mi
  mode_flag=(--quick)
else
  size=1Gi
  mode_flag=()
fi
cold_flag=()
if [ "$cold" = 1 ]; then
  cold_flag=(--cold-cache)
fi
spill_upper=0.8
spill_lower=0.5
daemon_java_opts="-Xmx256m"
shm_dir=/dev/shm/vineyard-spill-bench

mkdir -p "$spill_parent"
spill_parent=$(cd "$spill_parent" && pwd)
spill_fs=$(findmnt -n -o FSTYPE --target "$spill_parent" 2>/dev/null || stat -f -c %T "$spill_parent" 2>/dev/null || echo unknown)
spill_mount_opts=$(findmnt -n -o OPTIONS --target "$spill_parent" 2>/dev/null || echo unknown)
if [ "$spill_fs" = tmpfs ] || [ "$spill_fs" = ramfs ]; then
  echo "[spill] warning: $spill_parent is on $spill_fs: spilling goes from memory to memory" >&2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vineyard-spill-bench.XXXXXX")
spill_dir=$(mktemp -d "$spill_parent/vineyard-spill-bench.XXXXXX")
sock="$tmp/vineyard.sock"
daemon_log="$tmp/vineyardd.log"
daemon_pid=""
bench_pid=""

cleanup() {
  bench_cleanup spill "$spill_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "[spill] starting vineyardd: --size $size --reserve-memory --spill-dir $spill_dir ($spill_fs)" \
  "--spill-upper $spill_upper --spill-lower $spill_lower, VINEYARDD_JAVA_OPTS=$daemon_java_opts" >&2
daemon_start spill.sh "$sock" "$daemon_log" "$daemon_java_opts" --size "$size" --reserve-memory \
  --shm-dir "$shm_dir" --spill-dir "$spill_dir" --spill-upper "$spill_upper" --spill-lower "$spill_lower"

mkdir -p "$root/benchmarks/results"
cd "$root"
# In the background and waited for, so that a signal to this script stops the harness too.
"$JAVA" "${VINEYARD_JVM_FLAGS[@]}" -Xmx512m -XX:MaxDirectMemorySize=1g \
  -cp "$bench_jar:$root/benchmarks/target/lib/*" io.vineyard.bench.SpillBenchmark \
  --socket "$sock" --spill-dir "$spill_dir" --daemon-pid "$daemon_pid" \
  --out "$root/benchmarks/results/spill-latest.json" ${mode_flag[@]+"${mode_flag[@]}"} ${cold_flag[@]+"${cold_flag[@]}"} \
  --setting "size=$size" --setting "reserve_memory=true" --setting "shm_dir=$shm_dir" \
  --setting "spill_upper=$spill_upper" --setting "spill_lower=$spill_lower" \
  --setting "spill_fs=$spill_fs" --setting "spill_mount_options=$spill_mount_opts" --setting "java_opts=$daemon_java_opts" \
  --setting "daemon_pid=$daemon_pid" &
bench_pid=$!
bench_rc=0
wait "$bench_pid" || bench_rc=$?
bench_pid=""
exit "$bench_rc"
