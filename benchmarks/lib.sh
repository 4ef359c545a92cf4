# Sourced by the benchmark scripts: find the built harness, start a private vineyardd, stop it.
# Expects $root (the repository) and sets bench_jar, daemon_pid.

# Sets bench_jar to the built harness jar, or exits telling how to build it.
bench_require_jar() {
  bench_jar=$(ls "$root"/benchmarks/target/vineyard-benchmarks-*.jar 2>/dev/null \
    | grep -v -e '-sources.jar' -e '-tests.jar' | head -n 1 || true)
  if [ -z "$bench_jar" ] || [ ! -d "$root/benchmarks/target/lib" ]; then
    echo "$1: the benchmarks are not built; run without --no-build" >&2
    exit 3
  fi
}

# daemon_start NAME SOCKET LOG JAVA_OPTS [vineyardd flags...]
# Starts bin/vineyardd in the background and waits (up to 60 s: reserving memory takes a few
# seconds) until its socket exists. Sets daemon_pid; on failure prints the daemon's log and exits.
daemon_start() {
  local name=$1 sock=$2 log=$3 opts=$4
  shift 4
  VINEYARDD_JAVA_OPTS="$opts" "$root/bin/vineyardd" --socket "$sock" "$@" >"$log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 1 600); do
    [ -S "$sock" ] && return 0
    if ! kill -0 "$daemon_pid" 2>/dev/null; then
      echo "$name: vineyardd exited during start-up:" >&2
      cat "$log" >&2
      daemon_pid=""
      exit 1
    fi
    sleep 0.1
  done
  echo "$name: vineyardd did not create its socket within 60 s" >&2
  exit 1
}

# daemon_stop NAME: SIGTERM, up to 10 s for a clean shutdown (it removes its shared memory and
# spill files), then SIGKILL.
daemon_stop() {
  [ -n "${daemon_pid:-}" ] && kill -0 "$daemon_pid" 2>/dev/null || return 0
  kill -TERM "$daemon_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$daemon_pid" 2>/dev/null; then
    echo "[$1] daemon did not stop; killing it" >&2
    kill -KILL "$daemon_pid" 2>/dev/null || true
  fi
  wait "$daemon_pid" 2>/dev/null || true
}

# bench_stop: stops a harness still running in the background ($bench_pid).
bench_stop() {
  if [ -n "${bench_pid:-}" ] && kill -0 "$bench_pid" 2>/dev/null; then
    kill -TERM "$bench_pid" 2>/dev/null || true
    wait "$bench_pid" 2>/dev/null || true
  fi
}

# bench_cleanup NAME [PATH...]: the EXIT trap of a one-daemon benchmark: stops the harness and the
# daemon, shows the daemon's last log lines after a failure, removes its shared memory ($shm_dir),
# $tmp and the PATHs, and exits with the status the script was exiting with.
bench_cleanup() {
  local rc=$?
  local name=$1
  shift
  trap - EXIT INT TERM
  bench_stop
  daemon_stop "$name"
  if [ "$rc" != 0 ] && [ -s "$daemon_log" ]; then
    echo "[$name] last lines of the daemon log:" >&2
    tail -n 20 "$daemon_log" >&2 || true
  fi
  if [ -n "$daemon_pid" ]; then
    rm -rf "$shm_dir/vineyardd-$daemon_pid"
  fi
  rmdir "$shm_dir" 2>/dev/null || true
  rm -rf "$@" "$tmp"
  exit "$rc"
}
