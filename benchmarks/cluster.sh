#!/usr/bin/env bash
# Runs the cluster benchmark: a private etcd and two vineyardd (A and B) sharing its metadata, each
# with a gRPC port on loopback; measures RpcClient(A).fetchBlob and IpcClient(B).migrate of one
# object against an in-process memcpy, and writes benchmarks/results/cluster-latest.json.
#
# usage: benchmarks/cluster.sh [--quick] [--no-build] [--tls]
#   --quick     a 256 MiB object and 1 GiB daemons, fewer repetitions (default: 1 GiB, 3 GiB daemons)
#   --no-build  use the artifacts already built (default: mvn -B -q -DskipTests package first)
#   --tls       also a second pair whose gRPC ports speak TLS (certificates made with openssl in the
#               temporary directory), measured in the same run: the two pairs take turns, rep by rep,
#               so both see the same machine; into cluster-tls-latest.json, and the ratios
#
# etcd gets free loopback ports and a data directory in a temporary directory; the daemons get their
# sockets there too and their shared memory under /dev/shm/vineyard-cluster-bench. Everything is
# stopped and removed on exit, whatever happens (Ctrl-C included).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=0
build=1
tls=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --no-build) build=0 ;;
    --tls) tls=1 ;;
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "cluster.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# shellcheck source=../bin/java-env
source "$root/bin/java-env"   # JAVA, JAVA_HOME, VINEYARD_JVM_FLAGS
# shellcheck source=lib.sh
source "$root/benchmarks/lib.sh"

# $ETCD_BIN, etcd on the PATH or in /usr/bin; as root, installs Debian's etcd-server if there is none.
etcd_bin=$("$root/bin/ensure-etcd")
command -v curl >/dev/null 2>&1 || { echo "cluster.sh: needs curl (to wait for etcd)" >&2; exit 3; }
setsid=()
if command -v setsid >/dev/null 2>&1; then
  setsid=(setsid)
fi

if [ "$build" = 1 ]; then
  echo "[cluster] building (mvn -B -q -DskipTests package) ..." >&2
  (cd "$root" && mvn -B -q -DskipTests package)
fi

bench_require_jar cluster.sh

if [ "$quick" = 1 ]; then
  size=1Gi
  mode_flag=(--quick)
else
  size=3Gi
  mode_flag=()
fi
daemon_java_opts="-Xmx256m"
shm_dir=/dev/shm/vineyard-cluster-bench
# Every daemon reserves its whole --size of /dev/shm: two per pair, and the TLS pair beside the first.
daemons=$(( tls == 1 ? 4 : 2 ))
need=$(( daemons * ${size%Gi} ))
avail=$(df -B1G --output=avail /dev/shm 2>/dev/null | tail -n 1 | tr -d ' ' || echo "")
if [ -n "$avail" ] && [ "$avail" -lt "$need" ]; then
  echo "cluster.sh: $daemons daemons of $size need ${need} GiB free in /dev/shm; it has ${avail} GiB (use --quick, or without --tls)" >&2
  exit 3
fi
prefix="/vineyard-cluster-bench-$$"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vineyard-cluster-bench.XXXXXX")
etcd_log="$tmp/etcd.log"
etcd_pid=""
etcd_url=""
# Every daemon started, in order (a pair's A before its B), and its log.
pids=()
logs=()
daemon_pid=""
bench_pid=""

# A loopback port below the usual ephemeral range (32768-60999) that nothing listens on. etcd's own
# bind is the real check: etcd_start tries again with other ports if it fails.
pick_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 12000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "cluster.sh: found no free loopback port" >&2
  return 1
}

# Starts etcd on free loopback ports with a fresh data directory and waits until it is healthy.
# Sets etcd_pid and etcd_url.
etcd_start() {
  local client peer attempt
  for attempt in 1 2 3 4 5; do
    client=$(pick_port)
    peer=$(pick_port)
    [ "$client" != "$peer" ] || continue
    rm -rf "$tmp/etcd-data"
    # In a session of its own, so that a Ctrl-C reaches only this script, which stops etcd after
    # the daemons (etcd, unlike the JVMs, re-enables the SIGINT a background job starts without).
    ${setsid[@]+"${setsid[@]}"} "$etcd_bin" --name bench --data-dir "$tmp/etcd-data" \
      --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
      --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
      --initial-cluster "bench=http://127.0.0.1:$peer" >>"$etcd_log" 2>&1 &
    etcd_pid=$!
    for _ in $(seq 1 300); do
      if ! kill -0 "$etcd_pid" 2>/dev/null; then
        break
      fi
      if curl -fsS --max-time 1 "http://127.0.0.1:$client/health" 2>/dev/null | grep -q '"health":"true"'; then
        etcd_url="http://127.0.0.1:$client"
        return 0
      fi
      sleep 0.1
    done
    etcd_stop
    echo "[cluster] etcd did not come up on ports $client/$peer (attempt $attempt)" >&2
  done
  echo "cluster.sh: etcd did not start; its log:" >&2
  tail -n 30 "$etcd_log" >&2 || true
  exit 1
}

etcd_stop() {
  [ -n "$etcd_pid" ] && kill -0 "$etcd_pid" 2>/dev/null || { etcd_pid=""; return 0; }
  kill -TERM "$etcd_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$etcd_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$etcd_pid" 2>/dev/null || true
  wait "$etcd_pid" 2>/dev/null || true
  etcd_pid=""
}

cleanup() {
  local rc=$?
  # A second Ctrl-C must not cut the clean-up short (it is bounded: 10 s per process at most).
  trap - EXIT
  trap '' INT TERM
  bench_stop
  # A daemon still starting (daemon_pid), then the others, last started first (B before its A: each
  # withdraws from etcd as it stops), then etcd.
  local starting=$daemon_pid k f
  daemon_stop cluster
  for (( k=${#pids[@]}-1; k>=0; k-- )); do
    daemon_pid=${pids[$k]}
    daemon_stop cluster
  done
  etcd_stop
  for f in ${logs[@]+"${logs[@]}"}; do
    [ -s "$f" ] || continue
    if [ "$rc" != 0 ]; then
      echo "[cluster] last lines of daemon $(basename "$f" .log)'s log:" >&2
      tail -n 20 "$f" >&2 || true
    else
      # Worth knowing next to the figures (e.g. a lost etcd lease during start-up); not the warning
      # every daemon here gives for its loopback --rpc-host.
      local warned
      warned=$(grep -e ' WARN ' -e ' ERROR ' "$f" | grep -v -e 'is a loopback address' | head -n 10 || true)
      if [ -n "$warned" ]; then
        echo "[cluster] daemon $(basename "$f" .log) logged warnings:" >&2
        echo "$warned" >&2
      fi
    fi
  done
  for p in "$starting" ${pids[@]+"${pids[@]}"}; do
    if [ -n "$p" ]; then
      rm -rf "$shm_dir/vineyardd-$p"
    fi
  done
  rmdir "$shm_dir" 2>/dev/null || true
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

etcd_start
etcd_version=$("$etcd_bin" --version | head -n 1 | sed 's/^etcd Version: //')
echo "[cluster] etcd $etcd_version at $etcd_url, prefix $prefix" >&2

daemon_flags=(--size "$size" --reserve-memory --shm-dir "$shm_dir" --meta etcd --etcd-endpoints "$etcd_url"
  --rpc-host 127.0.0.1 --rpc-port 0)
mkdir -p "$root/benchmarks/results"

# start_pair LABEL [DAEMON FLAGS...]: starts the pair's A and B (each pair its own etcd prefix, so
# each is a cluster of two) with daemon_flags and the extra flags; adds them to pids and logs.
start_pair() {
  local label=$1 x
  shift
  echo "[cluster] $label: starting vineyardd A and B: ${daemon_flags[*]} --etcd-prefix $prefix-$label $*, VINEYARDD_JAVA_OPTS=$daemon_java_opts" >&2
  for x in a b; do
    daemon_start cluster.sh "$tmp/$label-$x.sock" "$tmp/$label-$x.log" "$daemon_java_opts" "${daemon_flags[@]}" \
      --etcd-prefix "$prefix-$label" "$@"
    pids+=("$daemon_pid")
    logs+=("$tmp/$label-$x.log")
    daemon_pid=""
  done
}

# pair_args LABEL OUT [HARNESS FLAGS...]: the harness's flags for a pair started by start_pair (the
# pair's pids are the last two in pids).
pair_args() {
  local label=$1 out=$2 n=${#pids[@]}
  shift 2
  harness+=(--socket-a "$tmp/$label-a.sock" --socket-b "$tmp/$label-b.sock" --pid-a "${pids[$((n-2))]}"
    --pid-b "${pids[$((n-1))]}" --out "$out"
    --setting "size=$size" --setting "reserve_memory=true" --setting "shm_dir=$shm_dir"
    --setting "java_opts=$daemon_java_opts" --setting "meta=etcd $etcd_url" --setting "etcd_prefix=$prefix-$label"
    --setting "rpc=127.0.0.1:0 (free port)" --setting "etcd=$etcd_version" --setting "transport=$label" "$@")
}

plain_out="$root/benchmarks/results/cluster-latest.json"
tls_out="$root/benchmarks/results/cluster-tls-latest.json"
harness=()
start_pair plaintext
pair_args plaintext "$plain_out"
if [ "$tls" = 1 ]; then
  command -v openssl >/dev/null 2>&1 || { echo "cluster.sh: --tls needs openssl (to make the certificates)" >&2; exit 3; }
  pki="$tmp/pki"
  mkdir -p "$pki"
  # A CA and one certificate for 127.0.0.1 that both daemons use (EC P-256, valid a day).
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$pki/ca.key" \
    -out "$pki/ca.pem" -days 1 -subj /CN=vineyard-bench-ca 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$pki/d.key" -out "$pki/d.csr" \
    -subj /CN=vineyard-bench 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$pki/ext"
  openssl x509 -req -in "$pki/d.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial -out "$pki/d.pem" \
    -days 1 -extfile "$pki/ext" 2>/dev/null
  head -c 32 /dev/urandom | base64 | tr -d '/+=\n' >"$pki/cluster.token"
  echo >>"$pki/cluster.token"
  start_pair tls --tls-cert "$pki/d.pem" --tls-key "$pki/d.key" --tls-client-ca "$pki/ca.pem" \
    --tls-peer-ca "$pki/ca.pem" --cluster-token-file "$pki/cluster.token"
  harness+=(--and)
  pair_args tls "$tls_out" --tls-ca "$pki/ca.pem" --tls-cert "$pki/d.pem" --tls-key "$pki/d.key"
fi

(cd "$root" &&
  exec "$JAVA" "${VINEYARD_JVM_FLAGS[@]}" -Xmx1g -XX:MaxDirectMemorySize=4g \
    -cp "$bench_jar:$root/benchmarks/target/lib/*" io.vineyard.bench.ClusterBenchmark \
    ${mode_flag[@]+"${mode_flag[@]}"} "${harness[@]}") &
bench_pid=$!
bench_rc=0
wait "$bench_pid" || bench_rc=$?
bench_pid=""
[ "$bench_rc" = 0 ] || exit "$bench_rc"

if [ "$tls" = 1 ]; then
  python3 - "$plain_out" "$tls_out" <<'PY'
import json, sys
p, t = (json.load(open(f)) for f in sys.argv[1:3])
for k in ("fetch_gbps", "migrate_gbps"):
    print(f"[cluster] {k}: plaintext {p[k]:.3f}, TLS {t[k]:.3f}, TLS/plaintext {t[k] / p[k]:.2f}x (target >= 0.7x)")
PY
fi
exit 0
