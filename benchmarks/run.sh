#!/usr/bin/env bash
# Runs the IPC benchmark against a fresh vineyardd and writes benchmarks/results/latest.json.
#
# usage: benchmarks/run.sh [--quick] [--no-build] [--io-threads N]
#   --quick         smaller baseline copy, fewer repetitions, shorter loops (under two minutes)
#   --no-build      use the artifacts already built (default: mvn -B -q -DskipTests package first)
#   --io-threads N  the daemon's event-loop threads (default: the daemon's default, 2)
#
# The daemon gets its own socket in a temporary directory and its shared memory under
# /dev/shm/vineyard-bench; both are removed on exit, whatever happens.
# The daemon's JVM options: VINEYARDD_JAVA_OPTS (default -Xmx256m), e.g. to add profiling flags.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=0
build=1
io_threads=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --no-build) build=0; shift ;;
    --io-threads)
      [ $# -ge 2 ] || { echo "run.sh: --io-threads needs a number" >&2; exit 2; }
      io_threads=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

# shellcheck source=../bin/java-env
source "$root/bin/java-env"   # JAVA, JAVA_HOME, VINEYARD_JVM_FLAGS
# shellcheck source=lib.sh
source "$root/benchmarks/lib.sh"

if [ "$build" = 1 ]; then
  # package, not install: the harness and the daemon run from this tree's target/ directories.
  echo "[run] building (mvn -B -q -DskipTests package) ..." >&2
  (cd "$root" && mvn -B -q -DskipTests package)
fi

bench_require_jar run.sh

if [ "$quick" = 1 ]; then
  size=3Gi
  mode_flag=(--quick)
else
  size=4Gi
  mode_flag=()
fi
daemon_java_opts="${VINEYARDD_JAVA_OPTS:--Xmx256m}"
shm_dir=/dev/shm/vineyard-bench
io_flag=()
io_setting="2 (default)"
if [ -n "$io_threads" ]; then
  io_flag=(--io-threads "$io_threads")
  io_setting=$io_threads
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vineyard-bench.XXXXXX")
sock="$tmp/vineyard.sock"
daemon_log="$tmp/vineyardd.log"
daemon_pid=""
bench_pid=""

cleanup() {
  bench_cleanup run
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "[run] starting vineyardd: --size $size --reserve-memory ${io_flag[*]+"${io_flag[*]}"}, VINEYARDD_JAVA_OPTS=$daemon_java_opts" >&2
daemon_start run.sh "$sock" "$daemon_log" "$daemon_java_opts" --size "$size" --reserve-memory --shm-dir "$shm_dir" \
  ${io_flag[@]+"${io_flag[@]}"}

mkdir -p "$root/benchmarks/results"
cd "$root"
# In the background and waited for, so that a signal to this script stops the harness too.
"$JAVA" "${VINEYARD_JVM_FLAGS[@]}" -Xmx1g -XX:MaxDirectMemorySize=8g \
  -cp "$bench_jar:$root/benchmarks/target/lib/*" io.vineyard.bench.IpcBenchmark \
  --socket "$sock" --out "$root/benchmarks/results/latest.json" ${mode_flag[@]+"${mode_flag[@]}"} \
  --setting "size=$size" --setting "reserve_memory=true" --setting "shm_dir=$shm_dir" \
  --setting "java_opts=$daemon_java_opts" --setting "io_threads=$io_setting" \
  --setting "daemon_pid=$daemon_pid" &
bench_pid=$!
bench_rc=0
wait "$bench_pid" || bench_rc=$?
bench_pid=""
exit "$bench_rc"
