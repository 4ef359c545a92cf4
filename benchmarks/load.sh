#!/usr/bin/env bash
# Runs the mixed-load benchmark (issue 19) against a fresh vineyardd and writes
# benchmarks/results/load-latest.json.
#
# usage: benchmarks/load.sh [--quick] [--no-build]
#   --quick     5 s per phase instead of 12 (about 25 s in all after the build)
#   --no-build  use the artifacts already built (default: mvn -B -q -DskipTests package first)
# LOAD_DAEMON_JAVA_OPTS replaces the daemon's JVM options (default -Xmx256m) and
# LOAD_HARNESS_JAVA_OPTS adds to the harness's (e.g. -Xlog:gc,safepoint:file=... to find pauses);
# LOAD_DAEMON_FLAGS adds vineyardd flags (e.g. --trim-after 0).
#
# 8 and then 48 connections, each on its own thread of one harness JVM, run a rotation of
# create + seal, get, put/get meta, names, list, stats and deletes; then everything is deleted,
# the daemon trimmed and its resident set compared with the one it had after a warm-up phase,
# emptied and trimmed (a fresh JVM's is printed too). The daemon gets its own socket
# in a temporary directory and its shared memory under /dev/shm/vineyard-load-bench, both removed
# on exit, whatever happens.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=0
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "load.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

# shellcheck source=../bin/java-env
source "$root/bin/java-env"   # JAVA, JAVA_HOME, VINEYARD_JVM_FLAGS
# shellcheck source=lib.sh
source "$root/benchmarks/lib.sh"

if [ "$build" = 1 ]; then
  echo "[load] building (mvn -B -q -DskipTests package) ..." >&2
  (cd "$root" && mvn -B -q -DskipTests package)
fi

bench_require_jar load.sh

mode_flag=()
if [ "$quick" = 1 ]; then
  mode_flag=(--quick)
fi
size=2Gi
daemon_java_opts="${LOAD_DAEMON_JAVA_OPTS:--Xmx256m}"
shm_dir=/dev/shm/vineyard-load-bench

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vineyard-load-bench.XXXXXX")
sock="$tmp/vineyard.sock"
daemon_log="$tmp/vineyardd.log"
daemon_pid=""
bench_pid=""

cleanup() {
  bench_cleanup load
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "[load] starting vineyardd: --size $size --rpc-port 0, VINEYARDD_JAVA_OPTS=$daemon_java_opts" >&2
# shellcheck disable=SC2086
daemon_start load.sh "$sock" "$daemon_log" "$daemon_java_opts" --size "$size" --shm-dir "$shm_dir" --rpc-port 0 \
  ${LOAD_DAEMON_FLAGS:-}

mkdir -p "$root/benchmarks/results"
cd "$root"
# In the background and waited for, so that a signal to this script stops the harness too.
# shellcheck disable=SC2086
"$JAVA" "${VINEYARD_JVM_FLAGS[@]}" -Xmx1g ${LOAD_HARNESS_JAVA_OPTS:-} \
  -cp "$bench_jar:$root/benchmarks/target/lib/*" io.vineyard.bench.LoadBenchmark \
  --socket "$sock" --daemon-pid "$daemon_pid" \
  --out "$root/benchmarks/results/load-latest.json" ${mode_flag[@]+"${mode_flag[@]}"} \
  --setting "size=$size" --setting "shm_dir=$shm_dir" --setting "java_opts=$daemon_java_opts" \
  --setting "daemon_pid=$daemon_pid" &
bench_pid=$!
bench_rc=0
wait "$bench_pid" || bench_rc=$?
bench_pid=""
if grep -E -q " WARN | ERROR " "$daemon_log"; then
  echo "[load] the daemon logged warnings:" >&2
  grep -E " WARN | ERROR " "$daemon_log" | head -n 20 >&2
fi
exit "$bench_rc"
