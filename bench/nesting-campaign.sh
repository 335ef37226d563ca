#!/usr/bin/env bash
# Nesting campaign (issue #21, class 1): every reader of untrusted input —
# CycloneDX JSON/XML, SPDX JSON/tag-value/3 with their licence expressions,
# OCI documents, in-toto statements and DSSE envelopes, Sigstore bundles,
# AdmissionReviews — is fed random documents (random nesting shape,
# log-uniform depth up to ~200,000, sometimes cut short or with bytes
# flipped) on a 2 MiB stack, each reader in its own process, for SECONDS of
# CPU time each, JOBS readers at a time. A reader that aborts (a stack
# overflow) is named with the seed that killed it; rerun with that seed to
# reproduce.
#
#   bash bench/nesting-campaign.sh [SECONDS=600] [JOBS=1] [SEED=1]
#
# Built in the test profile (debug: larger stack frames than release, so a
# stricter test of the depth limits).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-600}
JOBS=${2:-1}
SEED=${3:-1}
bin=$(cargo test --workspace --test e2e --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import sys, json
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "e2e" and m.get("executable"):
        print(m["executable"])' | tail -1)
# A private copy: rebuilding the checkout while the campaign runs must not
# pull the binary out from under its child processes.
copy=$(mktemp -d)/e2e
cp "$bin" "$copy"
echo "== nesting campaign: ${SECONDS_EACH} CPU s per reader, ${JOBS} at a time, seed ${SEED} ($(nproc) cores)"
start=$(date +%s)
PORTCULLIS_NESTING_SECONDS=$SECONDS_EACH PORTCULLIS_NESTING_JOBS=$JOBS PORTCULLIS_NESTING_SEED=$SEED \
    "$copy" nesting::campaign --exact --ignored --nocapture --test-threads 1
echo "== wall time $(( $(date +%s) - start )) s"
