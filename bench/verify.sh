#!/usr/bin/env bash
# Bundle verification speed, Sigil against its peers in one run, on the Sigstore conformance
# keyless happy-path bundles and the embedded public-good trust root:
#   - in-process: sigil (cache off / on, batch on all cores), the sigstore-verify crate
#     (sigstore-rust, same process), sigstore-python 4.5 (Verifier API)
#   - end to end, one process per verification: `sigil verify-bundle` against
#     `python -m sigstore verify identity` (hyperfine)
# Usage: bench/verify.sh [SECONDS]   (installs sigstore into .bench/venv and hyperfine when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-3}"
root="$PWD"
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
command -v hyperfine >/dev/null || { $sudo apt-get update -qq; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq hyperfine; }
venv="$root/.bench/venv"
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv"; "$venv/bin/pip" install -q sigstore; }

cargo build -q --release --locked -p sigil-verify --example throughput --example peer_oneshot
# `cargo build --release` of the binary itself (an `--example` selection would leave whatever
# target/release/sigil held): dynamically linked, without PIE (crates/cli/build.rs).
cargo build -q --release --locked -p sigil --bin sigil
LC_ALL=C readelf -l target/release/sigil | grep -q INTERP || { echo "target/release/sigil is not the dynamically linked cargo build" >&2; exit 1; }
tc="$(mktemp)"; dyn="$(mktemp)"; trap 'rm -f "$tc" "$dyn"' EXIT
cp target/release/sigil "$dyn" && chmod +x "$dyn"
scripts/build-release >/dev/null # the release build: static, no PIE (target/release/sigil)
python3 - "$tc" <<'PY'
import json, sys
tc = {"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
      "trustedRoot": json.load(open("tests/data/trust/public-good/trusted_root.json")),
      "signingConfig": json.load(open("tests/data/trust/public-good/signing_config.v0.2.json"))}
json.dump(tc, open(sys.argv[1], "w"))
PY

echo "== in-process, one core (${secs}s each)"
out="$(target/release/examples/throughput --seconds "$secs")"
echo "$out"
cold=$(echo "$out" | awk '/cache off \(every/ {print $(NF-1)}')
warm=$(echo "$out" | awk '/cache on \(re-/ {print $(NF-1)}')
py=$("$venv/bin/python" bench/sigstore_python_throughput.py tests/data "$secs" "$tc" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["bundles_per_second"]))')
echo "sigstore-python 4.5 (Verifier API)                 $py bundles/s"
awk -v c="$cold" -v w="$warm" -v p="$py" 'BEGIN { printf "ratio sigil / sigstore-python: cache off %.1fx, cache on %.1fx\n", c/p, w/p }'

echo "== end to end, one process per verification (happy-path-v0.3)"
D=tests/data/conformance/bundle-verify/happy-path-v0.3/bundle.sigstore.json
ID="https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
ISS="https://token.actions.githubusercontent.com"
json="$(mktemp)"
args="verify-bundle --bundle $D --certificate-identity $ID --certificate-oidc-issuer $ISS tests/data/conformance/a.txt"
peer="target/release/examples/peer_oneshot tests/data/trust/public-good/trusted_root.json $D tests/data/conformance/a.txt $ID $ISS"
# Ten interleaved rounds of 40 runs each: this VM's speed drifts within minutes, and one long
# series per binary would compare different periods.
for round in $(seq 10); do
  hyperfine -N --warmup 5 --runs 40 --export-json "$json.$round" \
    "target/release/sigil $args" "$dyn $args" "$peer" >/dev/null 2>&1
done
hyperfine -N --warmup 2 --runs 15 --export-json "$json.py" \
  "$venv/bin/python -m sigstore --trust-config $tc verify identity --bundle $D --cert-identity $ID --cert-oidc-issuer $ISS tests/data/conformance/a.txt" >/dev/null
python3 - "$json.py" "$json".{1..10} <<'PY'
import json, statistics, sys
p = json.load(open(sys.argv[1]))["results"][0]
times = [[], [], []]
for f in sys.argv[2:]:
    for i, r in enumerate(json.load(open(f))["results"]):
        times[i] += r["times"]
s, d, r = (statistics.median(t) for t in times)
print(f"sigil verify-bundle:          median {s*1000:7.2f} ms  (release build: static, no PIE; {len(times[0])} runs)")
print(f"  the same, cargo build:      median {d*1000:7.2f} ms  (cargo build --release: dynamically linked, no PIE)")
print(f"sigstore-verify 0.15.1:       median {r*1000:7.2f} ms  (examples/peer_oneshot, cargo build)")
print(f"python -m sigstore verify:    median {p['median']*1000:7.2f} ms")
print(f"ratios: {r/s:.2f}x sigstore-verify (cargo build: {r/d:.2f}x), {p['median']/s:.0f}x sigstore-python end to end")
PY
rm -f "$json" "$json.py" "$json".{1..10}
