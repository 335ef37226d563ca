#!/usr/bin/env bash
# Coverage-guided fuzz campaign (issue #15, item 7): the libFuzzer targets
# of fuzz/ (cargo-fuzz, AddressSanitizer) over the parsers of untrusted
# input — AdmissionReviews, policy TOML, trusted roots, Sigstore bundles,
# in-toto attestations, every SBOM format, registry documents, registry
# credentials, token answers and error bodies — each for SECONDS (wall
# clock; the CPU seconds each got are printed, and the issue asks for 600),
# JOBS at a time, seeded from ../shared/corpus and the repository's own
# policies. Installs what it needs: a nightly toolchain (with wasm32-wasip2,
# for the engine's plugins) and cargo-fuzz.
#
#   bash bench/fuzz.sh [SECONDS=600] [JOBS=2]
#   (PORTCULLIS_FUZZ_TARGETS="sbom trusted_root" picks targets)
#
# Per target it prints the executions, the coverage (libFuzzer's `cov`
# edges and `ft` features), the corpus size and the crashes. A crashing
# input is left in $work/artifacts/<target>/; fix the cause and keep the
# input in fuzz/regressions/<target>/, which `cargo test` replays
# (tests/e2e/fuzzed.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-600}
JOBS=${2:-2}
TARGETS=${PORTCULLIS_FUZZ_TARGETS:-admission_review policy_toml trusted_root sigstore_bundle attestation sbom oci_documents registry_credentials registry_answers}
shared=../shared
[ -d "$shared/corpus" ] || { echo "../shared/corpus must sit next to this repository" >&2; exit 1; }

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup target add wasm32-wasip2 --toolchain nightly >/dev/null
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
target_dir=${PORTCULLIS_FUZZ_TARGET_DIR:-$HOME/.cache/portcullis/fuzz-target}
(cd fuzz && cargo +nightly fuzz build --target-dir "$target_dir" >/dev/null)
bin_dir="$target_dir/x86_64-unknown-linux-gnu/release"

work=${PORTCULLIS_FUZZ_WORK:-$(mktemp -d)}
echo "== fuzz campaign: ${SECONDS_EACH} s per target, ${JOBS} at a time ($(nproc) cores), work in $work"

# Seeds: at most 400 small files per target, from the corpus and the repo.
seed() { # target, then find arguments (run in ../shared/corpus)
    local t=$1; shift
    mkdir -p "$work/corpus/$t"
    (cd "$shared/corpus" && find . -type f -size -200k "$@" | sort | sed -n 1,400p) | while read -r f; do
        cp "$shared/corpus/$f" "$work/corpus/$t/$(echo "$f" | sha256sum | cut -c1-16)"
    done
}
seed admission_review -path './kubewarden/*' -name '*.json'
seed trusted_root -iname '*trusted_root*'
cp engine/trust/*.json "$work/corpus/trusted_root/"
seed sigstore_bundle \( -name '*.sigstore' -o -name '*.sigstore.json' -o -iname '*bundle*.json' \)
seed sbom \( -path './cyclonedx-*' -o -path './spdx-*' -o -path './syft-format-fixtures/*' \) \( -name '*.json' -o -name '*.xml' -o -name '*.spdx' -o -name '*.jsonld' \)
cp "$shared"/images/sbom/* "$work/corpus/sbom/"
seed oci_documents \( -path './oci-image-spec/*' -o -path './go-containerregistry/*' -o -path './containers-image/*' \) -name '*.json'
find "$shared"/images/oci -path '*/blobs/sha256/*' -size -64k -exec cp {} "$work/corpus/oci_documents/" \;
seed registry_credentials -iname '*auth*.json'
mkdir -p "$work/corpus/policy_toml"
find policies -name '*.toml' | while read -r f; do cp "$f" "$work/corpus/policy_toml/$(echo "$f" | tr / _)"; done
# Registry answers: the first byte picks a token answer (even) or an error
# body (odd, then a status byte): the spec's error codes and token shapes.
mkdir -p "$work/corpus/registry_answers"
i=0
for t in '{"token":"t0k3n","expires_in":300,"issued_at":"2026-01-01T00:00:00Z"}' '{"access_token":"a","refresh_token":"r"}' '{"token":""}'; do
    { printf '\x00'; printf '%s' "$t"; } > "$work/corpus/registry_answers/token-$i"; i=$((i+1))
done
for code in BLOB_UNKNOWN BLOB_UPLOAD_INVALID DIGEST_INVALID MANIFEST_UNKNOWN NAME_UNKNOWN UNAUTHORIZED DENIED TOOMANYREQUESTS UNSUPPORTED; do
    { printf '\x01\x04'; printf '{"errors":[{"code":"%s","message":"m","detail":{"Tag":"1"}}]}' "$code"; } > "$work/corpus/registry_answers/error-$code"
done
{ printf '\x01\x01'; printf '<html>401 Authorization Required</html>'; } > "$work/corpus/registry_answers/error-html"
# Attestations: the first byte picks the layer media type (DSSE, bundle, bare statement).
mkdir -p "$work/corpus/attestation"
(cd "$shared/corpus" && find . -type f -size -200k \( -name '*.intoto.jsonl' -o -name '*.sigstore' -o -name '*.dsse*' \) | sort | sed -n 1,130p) |
    while read -r f; do
        n=$(echo "$f" | sha256sum | cut -c1-16)
        for b in 0 1 2; do { printf "\\x0$b"; cat "$shared/corpus/$f"; } > "$work/corpus/attestation/$n-$b"; done
    done

start=$(date +%s)
printf '%s\n' $TARGETS | xargs -P "$JOBS" -I{} bash -c '
    t={}; w='"$work"'; mkdir -p "$w/artifacts/$t" "$w/logs"
    /usr/bin/time -f "%U %S" -o "$w/logs/$t.cpu" \
        "'"$bin_dir"'/$t" "$w/corpus/$t" -max_total_time='"$SECONDS_EACH"' -rss_limit_mb=4096 -timeout=30 \
        -artifact_prefix="$w/artifacts/$t/" -print_final_stats=1 >"$w/logs/$t.log" 2>&1; code=$?
    cpu=$(awk "{printf \"%d\", \$1 + \$2}" "$w/logs/$t.cpu" 2>/dev/null || echo "?")
    runs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$w/logs/$t.log" | grep -oE "[0-9]+$" | tail -1)
    cov=$(grep -oE "cov: [0-9]+ ft: [0-9]+ corp: [0-9]+" "$w/logs/$t.log" | tail -1)
    crashes=$(ls "$w/artifacts/$t" | wc -l)
    echo "fuzz $t: ${cpu} CPU s, ${runs:-0} execs, $cov, $crashes crash/timeout/oom input(s), exit $code"'
echo "== wall time $(( $(date +%s) - start )) s; logs and artifacts in $work"
