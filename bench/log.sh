#!/usr/bin/env bash
# Transparency log appends over loopback, 64 clients, `sigil-log-bench` (crate sigil-bench) as the load generator on
# the same cores, in interleaved rounds (this VM's speed drifts by up to 40% within minutes):
#   - embedded: `sigil log serve` on a fresh data directory;
#   - floor: `examples/memory_log`, the same server with nothing durable (no entries, no
#     indexes, no fsync), i.e. what admission, sequencing, checkpoints, SETs, proofs and HTTP
#     cost on this machine; embedded/floor is what storage leaves of it;
#   - PostgreSQL: one round on a throw-away cluster, when PostgreSQL is installed.
# Prints each round, then medians, the ratio to the floor and the server CPU per append.
# Usage: bench/log.sh [ENTRIES] [ROUNDS]   (defaults 60000 and 5)
set -euo pipefail
cd "$(dirname "$0")/.."
entries="${1:-60000}"
rounds="${2:-5}"
cargo build -q --release --locked -p sigil --bin sigil
cargo build -q --release --locked -p sigil-bench --bin sigil-log-bench
cargo build -q --release --locked -p sigil-server --example memory_log
sigil="$PWD/target/release/sigil"
loadgen="$PWD/target/release/sigil-log-bench"
floor="$PWD/target/release/examples/memory_log"
work="$(mktemp -d)"
chmod o+x "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -d "$work/pg" ] && runuser -u postgres -- /usr/lib/postgresql/*/bin/pg_ctl -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# cpu PID: user+system ticks of a process.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run NAME READY_FILE PID: drives the server; prints "NAME appends/s p50 p99 cpu-us/append".
run() {
  local name=$1 ready=$2 pid=$3 before after out
  for _ in $(seq 200); do [ -s "$ready" ] && break; sleep 0.05; done
  before=$(cpu "$pid")
  out=$("$loadgen" --rekor-url "$(cat "$ready")" --entries "$entries" --clients 64 --proofs 0 -o json 2>/dev/null)
  after=$(cpu "$pid")
  OUT="$out" python3 - "$name" "$before" "$after" "$entries" "$(getconf CLK_TCK)" <<'PY'
import json, os, sys
name, before, after, n, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
r = json.loads(os.environ["OUT"])
assert r["errors"] == 0, r
print(f'{name} {r["appendsPerSecond"]:.0f} {r["integrationMs"]["p50"]:.1f} {r["integrationMs"]["p99"]:.1f} {(after - before) / hz / n * 1e6:.0f}')
PY
}

results="$work/results"
for r in $(seq "$rounds"); do
  d="$work/embedded-$r"
  setsid "$sigil" log serve --data "$d" --listen 127.0.0.1:0 --ready-file "$d.ready" >"$d.log" 2>&1 </dev/null &
  pids+=($!)
  run embedded "$d.ready" $! | tee -a "$results"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
  rm -rf "$d"
  setsid "$floor" "$work/floor-$r.ready" >/dev/null 2>&1 </dev/null &
  pids+=($!)
  run floor "$work/floor-$r.ready" $! | tee -a "$results"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
done

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | tail -1 || true)
if [ -n "$bin" ] && [ "$(id -u)" = 0 ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/pg" && chown postgres "$work/pg"
  runuser -u postgres -- "$bin/initdb" -D "$work/pg" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  runuser -u postgres -- "$bin/pg_ctl" -D "$work/pg" -w -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$work/pg" start >/dev/null
  d="$work/pg-log"
  setsid "$sigil" log serve --database-url "postgres://postgres@127.0.0.1:$port/postgres" --data "$d" --listen 127.0.0.1:0 --ready-file "$d.ready" >"$d.log" 2>&1 </dev/null &
  pids+=($!)
  run postgres "$d.ready" $! | tee -a "$results"
fi

python3 - "$results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, *vals = line.split()
    rows.setdefault(name, []).append([float(v) for v in vals])
med = {k: [statistics.median(c) for c in zip(*v)] for k, v in rows.items()}
print()
for k, (rate, p50, p99, cpu) in med.items():
    lo, hi = min(r[0] for r in rows[k]), max(r[0] for r in rows[k])
    print(f"{k:9} median {rate:6.0f} appends/s ({lo:.0f}-{hi:.0f}, {len(rows[k])} runs), integration p50 {p50:.1f} ms, p99 {p99:.1f} ms, server CPU {cpu:.0f} us/append")
if "embedded" in med and "floor" in med:
    print(f"embedded / floor: {med['embedded'][0] / med['floor'][0]:.2f}")
PY
