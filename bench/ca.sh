#!/usr/bin/env bash
# The keyless CA under load, the load generator on the same 2 cores: `sigil serve` with a
# P-256 and then a P-384 CA key, 64 keep-alive connections for SECONDS, each certificate with
# its embedded SCT from the CT log in the same process (durable before the answer) and checked
# by the load generator. Then keyless `sign-blob` end to end (token -> certificate -> log entry
# -> timestamp -> bundle, process start included), and sigstore-python 4.5.1 signing against
# the same server for scale. Usage: bench/ca.sh [SECONDS] [CLIENTS]  (defaults 10, 64)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"; clients="${2:-64}"
cargo build -q --release --locked -p sigil --bin sigil
cargo build -q --release --locked -p sigil-bench --bin sigil-ca-bench
work="$(mktemp -d)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
python3 tests/support/oidc_issuer.py > "$work/issuer.url" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/issuer.url" ] && break; sleep 0.05; done
iss="$(head -1 "$work/issuer.url")"
printf '{"OIDCIssuers":{"%s":{"IssuerURL":"%s","ClientID":"sigstore","Type":"kubernetes"}}}' "$iss" "$iss" > "$work/oidc.json"
claims='%7B%22kubernetes.io%22%3A%7B%22namespace%22%3A%22ci%22%2C%22serviceaccount%22%3A%7B%22name%22%3A%22builder%22%7D%7D%7D'
curl -s "$iss/token?exp=3600&claims=$claims" > "$work/token"
export SIGIL_PASSWORD=bench-password
echo "== sigil serve (CA + CT log + log + TSA), $(nproc) cores, load generator on the same machine"
for alg in ecdsa-p256 ecdsa-p384; do
  target/release/sigil serve --data "$work/$alg" --ca-key-algorithm "$alg" --oidc-config "$work/oidc.json" \
    --listen 127.0.0.1:0 --ready-file "$work/$alg.ready" 2>/dev/null &
  pids+=($!)
  for _ in $(seq 200); do [ -s "$work/$alg.ready" ] && break; sleep 0.05; done
  printf 'issuance, %s CA key: ' "$alg"
  target/release/sigil-ca-bench --url "$(cat "$work/$alg.ready")" --token-file "$work/token" --clients "$clients" --seconds "$secs"
  printf 'issuance, %s CA key, at 2000/s: ' "$alg"
  target/release/sigil-ca-bench --url "$(cat "$work/$alg.ready")" --token-file "$work/token" --clients "$clients" --seconds "$secs" --rate 2000
  if [ "$alg" = ecdsa-p256 ]; then
    url="$(cat "$work/$alg.ready")"
    echo hello > "$work/a.txt"
    n=20; times=()
    for i in $(seq $n); do
      s=$(date +%s%N)
      SIGSTORE_ID_TOKEN="$(cat "$work/token")" target/release/sigil sign-blob --trust-config "$work/$alg/trust-config.json" \
        --bundle "$work/a$i.json" "$work/a.txt" >/dev/null 2>&1
      e=$(date +%s%N); times+=($(( (e - s) / 1000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "keyless sign-blob end to end (sigil, process included): median %.1f ms over %d runs\n", a[int((NR+1)/2)]/1000, NR}'
    n=5; times=()
    for i in $(seq $n); do
      s=$(date +%s%N)
      python3 -m sigstore --trust-config "$work/$alg/trust-config.json" sign --identity-token "$(cat "$work/token")" \
        --bundle "$work/p$i.json" "$work/a.txt" >/dev/null 2>&1
      e=$(date +%s%N); times+=($(( (e - s) / 1000 )))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "keyless sign end to end (sigstore-python 4.5.1, interpreter included): median %.1f ms over %d runs\n", a[int((NR+1)/2)]/1000, NR}'
  fi
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
done
