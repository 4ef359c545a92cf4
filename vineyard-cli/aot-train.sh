#!/usr/bin/env bash
# Trains the AOT cache bin/vineyardctl starts from; `mvn package` runs it (vineyard-cli/pom.xml).
# usage: vineyard-cli/aot-train.sh CACHE
# When vineyardd is built (it is, in a reactor build: the CLI's tests depend on it), a small daemon of
# its own (private socket and shared memory, --meta local, a free gRPC port) serves the training
# commands (io.vineyard.cli.AotTraining: put, ls, inspect, stats, get, rm), so the cache holds whole
# commands. Otherwise the training is one `ls` that cannot connect: a smaller cache, still valid.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/vineyardctl-aot.XXXXXX")
shm=$work
[ -d /dev/shm ] && [ -w /dev/shm ] && shm=$(mktemp -d /dev/shm/vineyardctl-aot.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  [ "$shm" != "$work" ] && rm -rf "$shm"
}
trap cleanup EXIT

if ls "$root"/vineyard-server/target/vineyard-server-*.jar >/dev/null 2>&1 && [ -d "$root/vineyard-server/target/lib" ]; then
  VINEYARDD_JAVA_OPTS=-Xmx128m "$root/bin/vineyardd" --socket "$work/sock" --shm-dir "$shm" --size 16Mi \
    --meta local --rpc-port 0 >"$work/daemon.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do # up to 30 s
    [ -S "$work/sock" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
fi
if [ -S "$work/sock" ]; then
  VINEYARDCTL_AOT_OUTPUT=$cache "$root/bin/vineyardctl" "$work/sock" "$work"
else
  echo "aot-train: no daemon (vineyardd not built, or it did not start): training on a failed ls" >&2
  [ -f "$work/daemon.log" ] && cat "$work/daemon.log" >&2
  VINEYARDCTL_AOT_OUTPUT=$cache "$root/bin/vineyardctl"
fi
