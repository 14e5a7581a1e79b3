#!/usr/bin/env bash
# Times Sigil against its peers in one run, on the same inputs, with a warm page cache:
#   - one 1 GiB file: sigil sign-blob, sigil checksums verify, openssl dgst -sha256,
#     openssl dgst -sha256 -sign (same P-256 key), sha256sum
#   - 1,000 small files: sigil checksums sign/verify, sha256sum -c, openssl dgst -sha256
# Prints the best of N runs (wall seconds), peak RSS and CPU use, and the ratios.
#
# Usage: bench/blob.sh [RUNS]        (default 3; set BIG_MB to change the big file's size)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
big_mb="${BIG_MB:-1024}"

command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
cargo build --release --locked -p sigil >/dev/null 2>&1 || cargo build --release --locked -p sigil
sigil="$PWD/target/release/sigil"

work="$(mktemp -d "${TMPDIR:-/tmp}/sigil-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
export COSIGN_PASSWORD=bench

echo "preparing inputs in $work ..." >&2
head -c "$((big_mb * 1024 * 1024))" /dev/urandom > big
head -c 1024 /dev/urandom > tiny
mkdir small
for i in $(seq -w 1 1000); do head -c "$(( (RANDOM % 64 + 1) * 1024 ))" /dev/urandom > "small/f$i"; done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem 2>/dev/null
"$sigil" import-key-pair --key key.pem --output-key-prefix k >/dev/null 2>&1
(cd small && "$sigil" checksums sign --key ../k.key --output ../SMALLSUMS --output-signature ../SMALLSUMS.sig f* 2>/dev/null)
sed 's#  #  small/#' SMALLSUMS > SMALLSUMS.rel
"$sigil" checksums sign --key k.key --output BIGSUMS big 2>/dev/null
cat big small/* > /dev/null   # warm the page cache

# best-of-N: prints "seconds peak_kib cpu_percent"
measure() {
  local best="" best_line=""
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M %P" -o t.out "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; cat t.out >&2; return 1; }
    local line; line="$(tail -1 t.out)"
    local s="${line%% *}"
    if [ -z "$best" ] || awk "BEGIN{exit !($s < $best)}"; then best="$s"; best_line="$line"; fi
  done
  echo "$best_line"
}

declare -A R
row() { R["$1"]="$(measure "${@:2}")"; }

row openssl_dgst      openssl dgst -sha256 big
row sha256sum         sha256sum big
row openssl_sign      openssl dgst -sha256 -sign key.pem -out sig.der big
row sigil_sign_blob   "$sigil" sign-blob --key k.key big
row sigil_sign_tiny   "$sigil" sign-blob --key k.key tiny
row sigil_verify_big  "$sigil" checksums verify --private-infrastructure --key k.pub BIGSUMS
row sha256sum_c_small sha256sum -c SMALLSUMS.rel
row openssl_small     sh -c 'openssl dgst -sha256 small/* >/dev/null'
row sigil_sign_small  sh -c 'cd small && "$0" checksums sign --key ../k.key --output ../S2 f* 2>/dev/null' "$sigil"
row sigil_verify_small "$sigil" checksums verify --private-infrastructure --key k.pub SMALLSUMS --dir small
row sigil_verify_small_1core "$sigil" checksums verify --private-infrastructure --key k.pub SMALLSUMS --dir small -j 1

field() { echo "${R[$1]}" | awk -v f="$2" '{print $f}'; }
ratio() { awk -v a="$(field "$1" 1)" -v b="$(field "$2" 1)" 'BEGIN{ if (a > 0) printf "%.2f", b / a; else print "inf" }'; }

printf '\n%-28s %10s %12s %8s\n' "command (${big_mb} MiB file / 1000 files)" "seconds" "peak RSS MiB" "CPU"
for k in openssl_dgst sha256sum openssl_sign sigil_sign_blob sigil_sign_tiny sigil_verify_big sha256sum_c_small openssl_small sigil_sign_small sigil_verify_small sigil_verify_small_1core; do
  printf '%-28s %10s %12.1f %8s\n' "$k" "$(field $k 1)" "$(awk -v k="$(field $k 2)" 'BEGIN{print k/1024}')" "$(field $k 3)"
done
echo
echo "speed ratios (>1 means Sigil is faster):"
echo "  sign-blob vs openssl dgst -sha256 -sign:      $(ratio sigil_sign_blob openssl_sign)"
echo "  checksums verify (1 file) vs openssl dgst:     $(ratio sigil_verify_big openssl_dgst)"
echo "  checksums verify (1 file) vs sha256sum:        $(ratio sigil_verify_big sha256sum)"
echo "  checksums verify (1000 files) vs sha256sum -c: $(ratio sigil_verify_small sha256sum_c_small)"
echo "  checksums verify (1000 files) vs openssl dgst: $(ratio sigil_verify_small openssl_small)"
echo "  checksums verify 1000 files, all cores vs -j1: $(ratio sigil_verify_small sigil_verify_small_1core)"
echo "sign-blob peak RSS, 1 KiB vs ${big_mb} MiB file: $(awk -v a="$(field sigil_sign_tiny 2)" -v b="$(field sigil_sign_blob 2)" 'BEGIN{printf "%.1f vs %.1f MiB", a/1024, b/1024}')"
