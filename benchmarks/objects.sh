#!/usr/bin/env bash
# Runs the objects benchmark against a fresh vineyardd: opening a ~1 MiB and a ~1 GiB Arrow table
# from another process, beside a memcpy of the large table and a read of it from an Arrow IPC file
# on tmpfs; writes benchmarks/results/objects-latest.json.
#
# usage: benchmarks/objects.sh [--quick] [--no-build]
#   --quick     a 256 MiB large table, a 1 GiB daemon, fewer repetitions (default: 1 GiB, 3 GiB daemon)
#   --no-build  use the artifacts already built (default: mvn -B -q -DskipTests package first)
#
# The daemon gets its own socket in a temporary directory and its shared memory under
# /dev/shm/vineyard-objects-bench; the IPC files go to a new directory under /dev/shm. All are
# removed on exit, whatever happens.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=0
build=1
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --no-build) build=0 ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "objects.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# shellcheck source=../bin/java-env
source "$root/bin/java-env"   # JAVA, JAVA_HOME, VINEYARD_JVM_FLAGS
# shellcheck source=lib.sh
source "$root/benchmarks/lib.sh"

if [ "$build" = 1 ]; then
  echo "[objects] building (mvn -B -q -DskipTests package) ..." >&2
  (cd "$root" && mvn -B -q -DskipTests package)
fi

bench_require_jar objects.sh

if [ "$quick" = 1 ]; then
  size=1Gi
  mode_flag=(--quick)
else
  size=3Gi
  mode_flag=()
fi
daemon_java_opts="-Xmx256m"
shm_dir=/dev/shm/vineyard-objects-bench

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vineyard-objects-bench.XXXXXX")
sock="$tmp/vineyard.sock"
daemon_log="$tmp/vineyardd.log"
daemon_pid=""
bench_pid=""
file_dir=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  bench_stop
  daemon_stop objects
  if [ "$rc" != 0 ] && [ -s "$daemon_log" ]; then
    echo "[objects] last lines of the daemon log:" >&2
    tail -n 20 "$daemon_log" >&2 || true
  fi
  if [ -n "$daemon_pid" ]; then
    rm -rf "$shm_dir/vineyardd-$daemon_pid"
  fi
  rmdir "$shm_dir" 2>/dev/null || true
  if [ -n "$file_dir" ]; then
    rm -rf "$file_dir"
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The IPC files of the baseline: on tmpfs, so that reading them goes from memory to memory.
file_dir=$(mktemp -d /dev/shm/vineyard-objects-bench-files.XXXXXX)

# --rpc-port 0: nothing here uses gRPC, and the default port (9600) may be another daemon's.
echo "[objects] starting vineyardd: --size $size --reserve-memory --rpc-port 0, VINEYARDD_JAVA_OPTS=$daemon_java_opts" >&2
daemon_start objects.sh "$sock" "$daemon_log" "$daemon_java_opts" --size "$size" --reserve-memory --shm-dir "$shm_dir" \
  --rpc-port 0

mkdir -p "$root/benchmarks/results"
cd "$root"
# In the background and waited for, so that a signal to this script stops the harness (and with it
# the reader JVM it starts) too.
"$JAVA" "${VINEYARD_JVM_FLAGS[@]}" -Xmx1g \
  -cp "$bench_jar:$root/benchmarks/target/lib/*" io.vineyard.bench.ObjectsBenchmark \
  --socket "$sock" --file-dir "$file_dir" --out "$root/benchmarks/results/objects-latest.json" \
  ${mode_flag[@]+"${mode_flag[@]}"} \
  --setting "size=$size" --setting "reserve_memory=true" --setting "shm_dir=$shm_dir" \
  --setting "java_opts=$daemon_java_opts" --setting "rpc=127.0.0.1:0 (free port)" --setting "daemon_pid=$daemon_pid" &
bench_pid=$!
bench_rc=0
wait "$bench_pid" || bench_rc=$?
bench_pid=""
exit "$bench_rc"
