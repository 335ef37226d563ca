#!/usr/bin/env bash
# Parser campaign (issue #13, class 8): every parser of untrusted image
# input — tar streams and the merge, OCI JSON documents, `docker save`
# manifests, ELF files, Go build info — is fed format-aware mutants of real
# and crafted inputs for SECONDS of CPU time each, JOBS targets at a time,
# each target in its own process (an abort names its target). A panicking
# input is kept in $PORTCULLIS_FUZZ_CRASHES (default: a new temp dir) and
# named; it becomes a regression case in tests/e2e/parsers.rs.
#
#   bash bench/parser-campaign.sh [SECONDS=600] [JOBS=2] [SEED=1]
#   (PORTCULLIS_FUZZ_TARGETS="tar elf" picks targets)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-600}
JOBS=${2:-2}
SEED=${3:-1}
bin=$(cargo test --workspace --test e2e --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import sys, json
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "e2e" and m.get("executable"):
        print(m["executable"])' | tail -1)
work=$(mktemp -d)
cp "$bin" "$work/e2e"   # rebuilding the checkout must not pull it away
export PORTCULLIS_FUZZ_CRASHES=${PORTCULLIS_FUZZ_CRASHES:-$work/crashes}
mkdir -p "$PORTCULLIS_FUZZ_CRASHES"
echo "== parser campaign: ${SECONDS_EACH} CPU s per target, ${JOBS} at a time, seed ${SEED} ($(nproc) cores)"
start=$(date +%s)
status=0
TARGETS=${PORTCULLIS_FUZZ_TARGETS:-tar oci-json docker-manifest elf build-info}
# The test harness prints its own "test … ok" around the figures: keep the figures.
printf '%s\n' $TARGETS | xargs -P "$JOBS" -I{} sh -c '
    out=$(PORTCULLIS_FUZZ_TARGET={} PORTCULLIS_FUZZ_SECONDS='"$SECONDS_EACH"' PORTCULLIS_FUZZ_SEED='"$SEED"' \
        "'"$work"'/e2e" parsers::campaign --exact --ignored --nocapture --test-threads 1 2>/dev/null); code=$?
    printf "%s\n" "$out" | grep -oE "campaign [a-z-]+: .*|crash: .*"
    [ $code -eq 0 ] || { echo "campaign {}: FAILED (exit $code)"; exit 1; }' || status=1
echo "== crashes kept in $PORTCULLIS_FUZZ_CRASHES: $(ls "$PORTCULLIS_FUZZ_CRASHES" | wc -l)"
echo "== wall time $(( $(date +%s) - start )) s"
exit $status
