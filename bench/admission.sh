#!/usr/bin/env bash
# The admission webhook under load, the load generator on the same 2 cores:
#   - warm: 200 HTTPS keep-alive connections sending one AdmissionReview (a Pod with a pinned,
#     signed image) for 10 s — decisions from the cache;
#   - cold: 50 distinct pinned images arriving at once — each verified against a loopback
#     Debian docker-registry (key authority).
# Usage: bench/admission.sh [CONNECTIONS] [SECONDS] [COLD]   (defaults 200, 10, 50)
# SERVE_FLAGS adds flags to `sigil admission serve` (for example --no-cache).
set -euo pipefail
cd "$(dirname "$0")/.."
conns="${1:-200}"; secs="${2:-10}"; cold="${3:-50}"
cargo build -q --release --locked -p sigil --bin sigil
cargo build -q --release --locked -p sigil-bench --bin sigil-admission-bench
cargo build -q --release --locked -p sigil-oci --example push_images
sigil="$PWD/target/release/sigil"
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s/data}}\nhttp: {addr: 127.0.0.1:%s}\n' "$work" "$port" > "$work/config.yml"
docker-registry serve "$work/config.yml" >/dev/null 2>&1 &
reg=$!
hook=""
trap 'kill $reg $hook 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done

mapfile -t images < <(target/release/examples/push_images "127.0.0.1:$port" "$((cold + 1))")
export COSIGN_PASSWORD=bench SIGIL_CACHE_DIR="$work/cache"
(cd "$work" && "$sigil" generate-key-pair >/dev/null 2>&1)
"$sigil" sign --key "$work/cosign.key" "${images[@]}" 2>/dev/null
: > "$work/cold.txt"
for i in "${!images[@]}"; do
  pinned=$("$sigil" resolve "${images[$i]}")
  if [ "$i" = 0 ]; then warm="$pinned"; else echo "$pinned" >> "$work/cold.txt"; fi
done
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=bench-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tls.key -out tls.csr -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext.cnf
openssl x509 -req -in tls.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out tls.pem -days 1 -extfile ext.cnf 2>/dev/null
printf 'apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: bench}\nspec:\n  images: [{glob: "**"}]\n  authorities: [{key: {data: %s/cosign.pub}}]\n' "$work" > policy.yaml
# The webhook's own (empty) signature cache: the cold run must not profit from the signing above.
SIGIL_CACHE_DIR="$work/webhook-cache" "$sigil" admission serve --listen 127.0.0.1:0 --tls-cert tls.pem --tls-key tls.key --policy policy.yaml --ready-file ready ${SERVE_FLAGS:-} 2>/dev/null &
hook=$!
for _ in $(seq 200); do [ -s ready ] && break; sleep 0.05; done
cd - >/dev/null
echo "== sigil admission serve, $(nproc) cores, load generator on the same machine"
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
target/release/sigil-admission-bench --url "$(cat "$work/ready")" --ca "$work/ca.pem" --image "$warm" \
  --connections "$conns" --seconds "$secs"
r0=$(cpu $reg); h0=$(cpu $hook)
target/release/sigil-admission-bench --url "$(cat "$work/ready")" --ca "$work/ca.pem" --image "$warm" \
  --cold-only --cold "$work/cold.txt"
r1=$(cpu $reg); h1=$(cpu $hook)
echo "cold burst CPU: registry $(( (r1 - r0) * 1000 / hz )) ms, webhook $(( (h1 - h0) * 1000 / hz )) ms"
echo "server RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$hook/status) peak"
# The server's own view of the cold verifications (its histogram: registry round trips and
# checks, without the HTTPS connection, the queueing or the load generator).
python3 - "$(cat "$work/ready")/metrics" "$work/ca.pem" <<'PY'
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
m = urllib.request.urlopen(sys.argv[1], context=ctx).read().decode()
b = {}
for line in m.splitlines():
    if line.startswith("sigil_admission_verification_duration_seconds_bucket"):
        le = line.split('le="')[1].split('"')[0]
        b[le] = int(line.rsplit(" ", 1)[1])
    if line.startswith("sigil_admission_verification_duration_seconds_count"):
        n = int(line.rsplit(" ", 1)[1])
    if line.startswith("sigil_admission_verification_duration_seconds_sum"):
        s = float(line.rsplit(" ", 1)[1])
p99 = next(le for le, c in b.items() if c >= 0.99 * n)
print(f"server: {n} registry verifications, mean {1000 * s / n:.1f} ms, p99 bucket <= {float(p99) * 1000:g} ms")
PY
