#!/usr/bin/env bash
# Vulnerability-database benchmark (issue #16), printed:
#   - `db import` of the Go vulnerability database: wall time (target <= 2 s)
#     and peak RSS, and of 100,000 generated records (memory must stay bounded);
#   - matching a scanned image against it (target <= 5 ms on top of the scan),
#     from `cargo bench --bench vulns`;
#   - `portcullis vulns IMAGE` end to end (scan included) on each image given,
#     next to `audit` of the same image with the default pack, for scale.
#
#   bash bench/vulns.sh [IMAGE_OCI_DIR...]
#
# Images default to the shared go-legacy-debug and go-dynamic-root, plus
# debian-fat when ../shared/images/build-images.sh has built it in /tmp/bench.
# PORTCULLIS_BIN: a prebuilt release binary (default: cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${PORTCULLIS_SHARED:-../shared}
OSV="$SHARED/corpus/go-vulndb/data/osv"
if [ -z "${PORTCULLIS_BIN:-}" ]; then
    cargo build --release -q --bin portcullis
    PORTCULLIS_BIN=${CARGO_TARGET_DIR:-target}/release/portcullis
fi
IMAGES=("$@")
if [ ${#IMAGES[@]} -eq 0 ]; then
    IMAGES=("$SHARED/images/oci/go-legacy-debug" "$SHARED/images/oci/go-dynamic-root")
    [ -d /tmp/bench/images/oci/debian-fat ] && IMAGES+=(/tmp/bench/images/oci/debian-fat)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timed() { # prints "seconds maxrss_kb" of one run
    /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null 2>&1
    cat "$work/t"
}

echo "== db import (5 rounds)"
for _ in 1 2 3 4 5; do timed "$PORTCULLIS_BIN" db import "$OSV" -o "$work/go.redb"; done > "$work/imp"
printf "go-vulndb (%s records): %s s median (target <= 2 s), peak RSS %s MB\n" \
    "$(ls "$OSV" | wc -l)" "$(cut -d' ' -f1 "$work/imp" | median)" "$(( $(cut -d' ' -f2 "$work/imp" | median) / 1024 ))"

mkdir -p "$work/gen"
python3 - "$work/gen" <<'PY'
import json, os, sys
d = sys.argv[1]
for i in range(100_000):
    r = {"id": f"GEN-{i}", "modified": "2026-01-01T00:00:00Z",
         "affected": [{"package": {"ecosystem": "npm", "name": f"pkg-{i % 5000}"},
                       "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": f"1.{i % 97}.0"}]}]}]}
    with open(os.path.join(d, f"GEN-{i}.json"), "w") as f:
        json.dump(r, f)
PY
read -r s kb < <(timed "$PORTCULLIS_BIN" db import "$work/gen" -o "$work/gen.redb")
echo "100,000 generated records: $s s, peak RSS $((kb / 1024)) MB"

echo "== matching (cargo bench --bench vulns)"
PORTCULLIS_BENCH_IMAGES=$(IFS=:; echo "${IMAGES[*]}") cargo bench -q --bench vulns 2>/dev/null | grep -v '^$'

echo "== vulns end to end (3 rounds, interleaved with audit)"
"$PORTCULLIS_BIN" db import "$OSV" -o "$work/go.redb" >/dev/null 2>&1
for image in "${IMAGES[@]}"; do
    : > "$work/v"; : > "$work/a"
    for _ in 1 2 3; do
        timed "$PORTCULLIS_BIN" --vuln-db "$work/go.redb" vulns "$image" | cut -d' ' -f1 >> "$work/v"
        timed "$PORTCULLIS_BIN" audit "$image" | cut -d' ' -f1 >> "$work/a"
    done
    printf "%s: vulns %s s, audit (default pack) %s s\n" "$(basename "$image")" "$(median < "$work/v")" "$(median < "$work/a")"
done
