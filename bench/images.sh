#!/usr/bin/env bash
# Image verification against the real registry (Debian's docker-registry on loopback):
# N signed images verified by one `sigil verify` call (parallel over one connection pool),
# against a loop of N single-image `sigil verify` calls in the same run; cold (empty cache)
# and cached. Reports registry requests per verified image from `--output json`.
# Usage: bench/images.sh [N]   (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100}"
cargo build -q --release --locked -p sigil
cargo build -q --release --locked -p sigil-oci --example push_images
sigil="$PWD/target/release/sigil"
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat > "$work/config.yml" <<CFG
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/data}}
http: {addr: 127.0.0.1:$port}
CFG
docker-registry serve "$work/config.yml" >/dev/null 2>&1 &
reg=$!
trap 'kill $reg 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done

mapfile -t images < <(target/release/examples/push_images "127.0.0.1:$port" "$n")
export COSIGN_PASSWORD=bench
(cd "$work" && "$sigil" generate-key-pair >/dev/null 2>&1)
"$sigil" sign --key "$work/cosign.key" "${images[@]}" 2>/dev/null
key="$work/cosign.pub"

now() { date +%s.%N; }
rate() { python3 -c "import sys; n,t=int(sys.argv[1]),float(sys.argv[2]); print(f'{t:.3f} s, {n/t:.0f} images/s')" "$@"; }
per() { python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['registryRequests']; n=int(sys.argv[2]); t=r['head']+r['get']+r['write']; print(f'{t/n:.2f} requests/image (HEAD {r[\"head\"]/n:.2f}, GET {r[\"get\"]/n:.2f})')" "$@"; }

echo "== $n signed images on 127.0.0.1:$port, $(nproc) cores"
export SIGIL_CACHE_DIR="$work/cache-batch"
t0=$(now); "$sigil" verify --private-infrastructure --key "$key" -o json "${images[@]}" > "$work/cold.json"; t1=$(now)
echo "one call, cold:    $(rate "$n" "$(echo "$t1 - $t0" | bc)"); $(per "$work/cold.json" "$n")"
t0=$(now); "$sigil" verify --private-infrastructure --key "$key" -o json "${images[@]}" > "$work/warm.json"; t1=$(now)
batch_warm=$(echo "$t1 - $t0" | bc)
echo "one call, cached:  $(rate "$n" "$batch_warm"); $(per "$work/warm.json" "$n")"

export SIGIL_CACHE_DIR="$work/cache-loop"
t0=$(now); for i in "${images[@]}"; do "$sigil" verify --private-infrastructure --key "$key" "$i" >/dev/null 2>&1; done; t1=$(now)
loop_cold=$(echo "$t1 - $t0" | bc)
echo "loop, cold:        $(rate "$n" "$loop_cold")"
t0=$(now); for i in "${images[@]}"; do "$sigil" verify --private-infrastructure --key "$key" "$i" >/dev/null 2>&1; done; t1=$(now)
loop_warm=$(echo "$t1 - $t0" | bc)
echo "loop, cached:      $(rate "$n" "$loop_warm")"
python3 -c "import sys; print(f'one call vs loop (cached): {float(sys.argv[2])/float(sys.argv[1]):.1f}x')" "$batch_warm" "$loop_warm"
