#!/usr/bin/env bash
# Measures `vineyardctl put` and `vineyardctl get -o` of one file against `cp` of the same file,
# and the start-up of `vineyardctl` (`--version`, `ls`, `stats` against an empty daemon) next to a
# bare `java -version` of the same JDK, in one run on one machine, and prints medians and ratios.
#
# usage: benchmarks/cli.sh [--size 1Gi|256Mi|...] [--reps N] [--dir DIR] [--no-build] [--startup]
#   Whole commands are timed, JVM start included. The files live in DIR: by default a tmpfs
#   directory, so that the comparison is memory to memory (on a disk, writeback noise swamps it);
#   the source is read once first and `sync` runs before each timed command.
#   --startup: only the start-up figures (each the median of --reps runs, default 5).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size=1Gi
reps=5
build=1
startup_only=0
dir=/dev/shm
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --startup) startup_only=1; shift ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cli.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
source "$root/bin/java-env"
# shellcheck source=lib.sh
source "$root/benchmarks/lib.sh"
if [ "$build" = 1 ]; then
  (cd "$root" && mvn -B -q --no-transfer-progress -DskipTests package)
fi

case "$size" in
  *Gi) bytes=$(( ${size%Gi} * 1024 * 1024 * 1024 )) ;;
  *Mi) bytes=$(( ${size%Mi} * 1024 * 1024 )) ;;
  *) bytes=$size ;;
esac
capacity=$(( bytes * 2 + (256 << 20) ))
[ "$startup_only" = 1 ] && capacity=$(( 64 << 20 )) # no files: a small daemon starts at once

work=$(mktemp -d "$dir/vineyard-cli-bench.XXXXXX")
shm=$(mktemp -d /dev/shm/vineyard-cli-bench.XXXXXX)
daemon_pid=""
cleanup() {
  daemon_stop cli
  rm -rf "$work" "$shm"
}
trap cleanup EXIT INT TERM

export VINEYARD_IPC_SOCKET="$work/v.sock"
daemon_start cli.sh "$VINEYARD_IPC_SOCKET" "$work/vineyardd.log" -Xmx256m --size "$capacity" \
  --reserve-memory --shm-dir "$shm"

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Start-up: each command run $reps times, quietly; the daemon holds nothing, so `ls` and `stats` are
# one request each and the time is the JVM's and the tool's.
startup() { # startup LABEL COMMAND...: prints the median and every run, in ms
  local label=$1 runs=() t
  shift
  for _ in $(seq 1 "$reps"); do
    t=$(now); "$@" > /dev/null 2>&1; runs+=($(( ($(now) - t) / 1000000 )))
  done
  printf '  %-34s %6s ms   (runs: %s)\n' "$label" "$(printf '%s\n' "${runs[@]}" | median)" "${runs[*]}"
}
echo "start-up, $reps runs each, medians ($("$JAVA" -version 2>&1 | head -n 1)):"
startup "java -version (baseline)" "$JAVA" -version
startup "vineyardctl --version" "$root/bin/vineyardctl" --version
startup "vineyardctl ls" "$root/bin/vineyardctl" ls
startup "vineyardctl stats" "$root/bin/vineyardctl" stats
VINEYARDCTL_AOT_CACHE="" startup "vineyardctl ls, no AOT cache" "$root/bin/vineyardctl" ls
[ "$startup_only" = 1 ] && exit 0

echo "[cli] writing a $size file of random bytes ..." >&2
head -c "$bytes" /dev/urandom > "$work/src.bin"
cat "$work/src.bin" > /dev/null

cp_ms=(); put_ms=(); get_ms=(); start_ms=()
for i in $(seq 1 "$reps"); do
  sync; t=$(now); cp "$work/src.bin" "$work/cp.bin"; cp_ms+=($(( ($(now) - t) / 1000000 )))
  rm -f "$work/cp.bin"

  sync; t=$(now); id=$("$root/bin/vineyardctl" put "$work/src.bin" | tail -n 1); put_ms+=($(( ($(now) - t) / 1000000 )))

  sync; t=$(now); "$root/bin/vineyardctl" get "$id" -o "$work/get.bin"; get_ms+=($(( ($(now) - t) / 1000000 )))
  cmp -s "$work/src.bin" "$work/get.bin" || { echo "cli.sh: round trip differs" >&2; exit 1; }
  rm -f "$work/get.bin"
  "$root/bin/vineyardctl" rm "$id" > /dev/null

  t=$(now); "$root/bin/vineyardctl" stats > /dev/null; start_ms+=($(( ($(now) - t) / 1000000 )))
done

cp_m=$(printf '%s\n' "${cp_ms[@]}" | median)
put_m=$(printf '%s\n' "${put_ms[@]}" | median)
get_m=$(printf '%s\n' "${get_ms[@]}" | median)
start_m=$(printf '%s\n' "${start_ms[@]}" | median)
gbps() { awk -v b="$bytes" -v ms="$1" 'BEGIN {printf "%.2f", b / (ms / 1000) / 1e9}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "file $size in $dir ($(df -T "$dir" | awk 'NR==2 {print $2}')), $reps reps, medians (whole commands, JVM start included):"
printf '  %-28s %6s ms  %6s GB/s\n' "cp" "$cp_m" "$(gbps "$cp_m")"
printf '  %-28s %6s ms  %6s GB/s  %s x cp time\n' "vineyardctl put" "$put_m" "$(gbps "$put_m")" "$(ratio "$put_m" "$cp_m")"
printf '  %-28s %6s ms  %6s GB/s  %s x cp time\n' "vineyardctl get -o" "$get_m" "$(gbps "$get_m")" "$(ratio "$get_m" "$cp_m")"
printf '  %-28s %6s ms\n' "vineyardctl stats (startup)" "$start_m"
echo "  all runs (ms): cp ${cp_ms[*]} | put ${put_ms[*]} | get ${get_ms[*]} | stats ${start_ms[*]}"
