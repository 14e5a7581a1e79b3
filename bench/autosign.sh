#!/usr/bin/env bash
# Push to verifiable signature: Debian's docker-registry sends its notifications to `sigil
# serve`, which queues each push durably and signs it with the repository's key; the load
# generator pushes distinct images from CLIENTS pushers for SECONDS and times each push until
# its signature is in the registry. All on the same 2 cores.
# Usage: bench/autosign.sh [SECONDS] [CLIENTS]  (defaults 10, 16)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"; clients="${2:-16}"
cargo build -q --release --locked -p sigil --bin sigil
cargo build -q --release --locked -p sigil-bench --bin sigil-autosign-bench
work="$(mktemp -d)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
read -r reg_port serve_port < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
token=bench-events-token
cat > "$work/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$reg_port
notifications:
  endpoints:
    - name: sigil
      url: http://127.0.0.1:$serve_port/api/v1/registry/events
      headers:
        Authorization: ["Bearer $token"]
      timeout: 2s
      threshold: 5
      backoff: 100ms
      ignore:
        actions: [pull]
YML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
pids+=($!)
SIGIL_PASSWORD=bench target/release/sigil serve --data "$work/data" --listen "127.0.0.1:$serve_port" \
  --ready-file "$work/ready" --registry-events-token "$token" --sign-on-push-registry "127.0.0.1:$reg_port" 2>/dev/null &
pids+=($!)
for _ in $(seq 200); do [ -s "$work/ready" ] && curl -sf "http://127.0.0.1:$reg_port/v2/" >/dev/null && break; sleep 0.05; done
echo "== sign on push: docker-registry -> sigil serve, $(nproc) cores, load generator on the same machine"
target/release/sigil-autosign-bench --registry "127.0.0.1:$reg_port" --sigil "$(cat "$work/ready")" --token "$token" \
  --clients "$clients" --seconds "$secs"
