#!/usr/bin/env bash
# The timestamp authority under load, the load generator on the same 2 cores: P-384 (the
# default) and P-256 signing keys, each with 64 keep-alive connections for SECONDS; every reply
# is checked by the load generator. Usage: bench/tsa.sh [SECONDS] [CLIENTS]  (defaults 10, 64)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"; clients="${2:-64}"
cargo build -q --release --locked -p sigil --bin sigil
cargo build -q --release --locked -p sigil-bench --bin sigil-tsa-bench
work="$(mktemp -d)"
tsa=""
trap 'kill $tsa 2>/dev/null; rm -rf "$work"' EXIT
echo "== sigil tsa serve, $(nproc) cores, load generator on the same machine"
for alg in ecdsa-p384 ecdsa-p256; do
  env -u COSIGN_PASSWORD -u SIGIL_PASSWORD target/release/sigil tsa serve --data "$work/$alg" \
    --key-algorithm "$alg" --listen 127.0.0.1:0 --ready-file "$work/$alg.ready" 2>/dev/null &
  tsa=$!
  for _ in $(seq 200); do [ -s "$work/$alg.ready" ] && break; sleep 0.05; done
  printf '%s: ' "$alg"
  target/release/sigil-tsa-bench --url "$(cat "$work/$alg.ready")/api/v1/timestamp" --clients "$clients" --seconds "$secs"
  kill $tsa; wait $tsa 2>/dev/null || true
done
# For scale, a peer nobody here wrote: openssl ts -reply (one process per reply, P-256 key,
# the same kind of query), serially on one core.
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tsa.key -out tsa.pem -days 1 -subj /CN=bench-tsa \
  -addext "extendedKeyUsage=critical,timeStamping" -addext "keyUsage=critical,digitalSignature" 2>/dev/null
printf '[tsa]\ndefault_tsa = t\n[t]\nserial = %s/serial\nsigner_cert = %s/tsa.pem\nsigner_key = %s/tsa.key\nsigner_digest = sha256\ndefault_policy = 1.3.6.1.4.1.57264.2\ndigests = sha256\ness_cert_id_alg = sha256\n' "$work" "$work" "$work" > tsa.cnf
echo 01 > serial
echo hello > data
openssl ts -query -data data -sha256 -cert -out q.tsq 2>/dev/null
n=200
s=$(date +%s.%N)
for _ in $(seq $n); do openssl ts -reply -config tsa.cnf -queryfile q.tsq -out r.tsr 2>/dev/null; done
e=$(date +%s.%N)
python3 -c "print(f'openssl ts -reply (P-256, one process per reply, serial): {$n/($e-$s):.0f}/s')"
