#!/bin/sh
# check-vectors.sh GEN -- regenerates every vector file into a temporary
# directory with the generator GEN and fails unless the result is
# byte-identical to the committed vectors/ (same files, same bytes, same
# SHA-256 manifest).
set -eu
gen=${1:?usage: check-vectors.sh path/to/lmr-gen}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

start=$(date +%s)
"$gen" "$tmp"
(cd "$tmp" && sha256sum -- *.json > SHA256SUMS)
seconds=$(( $(date +%s) - start ))

status=0
for regenerated in "$tmp"/*; do
    name=$(basename "$regenerated")
    if [ ! -f "vectors/$name" ]; then
        echo "vectors: $name is generated but not committed (run 'make vectors')" >&2
        status=1
    elif ! cmp -s "$regenerated" "vectors/$name"; then
        echo "vectors: vectors/$name differs from its regeneration:" >&2
        diff "vectors/$name" "$regenerated" | head -n 20 >&2 || true
        status=1
    fi
done
for committed in vectors/*; do
    name=$(basename "$committed")
    if [ ! -f "$tmp/$name" ]; then
        echo "vectors: vectors/$name is committed but no longer generated" >&2
        status=1
    fi
done
(cd vectors && sha256sum --quiet -c SHA256SUMS) || status=1

count=$(ls "$tmp"/*.json | wc -l)
if [ "$status" -eq 0 ]; then
    echo "vectors: regenerated $count files in ${seconds}s; byte-identical to vectors/, manifest verified"
else
    echo "vectors: regenerated files differ from vectors/ (see above)" >&2
fi
exit "$status"
